"""The AWS JSON endpoint at the HTTP level: what a broken, hostile or slow client gets, and
that other clients keep being served meanwhile. Requests are signed with botocore's own SigV4
signer. Needs KMS_AWS_ENDPOINT and an admin's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
import datetime
import http.client
import json
import os
import socket
import time
import unittest
from unittest import mock
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ENDPOINT = urlparse(os.environ["KMS_AWS_ENDPOINT"])
CREDENTIALS = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])


def signed(target, body, region="us-east-1", when=None, headers=None):
    request = AWSRequest(method="POST", url=os.environ["KMS_AWS_ENDPOINT"] + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{target}", **(headers or {}),
    })
    if when is None:
        SigV4Auth(CREDENTIALS, "kms", region).add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            SigV4Auth(CREDENTIALS, "kms", region).add_auth(request)
    return dict(request.headers.items())


def send(method, body, headers):
    connection = http.client.HTTPConnection(ENDPOINT.hostname, ENDPOINT.port, timeout=30)
    connection.request(method, "/", body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    result = (response.status, json.loads(payload) if payload else {}, dict(response.getheaders()))
    connection.close()
    return result


class Edges(unittest.TestCase):
    def test_a_good_request_has_a_request_id(self):
        status, body, headers = send("POST", b"{}", signed("ListKeys", b"{}"))
        self.assertEqual(status, 200)
        self.assertIn("Keys", body)
        self.assertTrue(headers.get("x-amzn-RequestId"))

    def test_errors_are_aws_json_errors(self):
        status, body, _ = send("POST", b"{}", {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"})
        self.assertEqual((status, body["__type"]), (403, "MissingAuthenticationTokenException"))
        status, body, _ = send("POST", b"{}", signed("NoSuchOperation", b"{}"))
        self.assertEqual((status, body["__type"]), (400, "UnknownOperationException"))
        status, body, _ = send("POST", b"{not json", signed("ListKeys", b"{not json"))
        self.assertEqual((status, body["__type"]), (400, "SerializationException"))
        status, body, _ = send("GET", None, {})
        self.assertEqual((status, body["__type"]), (404, "UnknownOperationException"))
        headers = signed("ListKeys", b"{}")
        headers["Authorization"] = headers["Authorization"].replace("Signature=", "Signature=0")
        self.assertEqual(send("POST", b"{}", headers)[1]["__type"], "IncompleteSignatureException")
        tampered = signed("ListKeys", b'{"Limit": 5}')
        self.assertEqual(send("POST", b'{"Limit": 6}', tampered)[1]["__type"], "InvalidSignatureException")

    def test_a_skewed_clock_is_refused(self):
        past = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
        status, body, _ = send("POST", b"{}", signed("ListKeys", b"{}", when=past))
        self.assertEqual(body["__type"], "InvalidSignatureException")
        self.assertIn("Signature expired", body["message"])

    def test_an_oversize_body_is_refused_without_reading_it(self):
        big = b"{" + b" " * (80 * 1024) + b"}"
        status, body, _ = send("POST", big, signed("ListKeys", big))
        self.assertEqual(status, 413)

    def test_a_slow_request_is_cut_off_and_others_are_served(self):
        slow = socket.create_connection((ENDPOINT.hostname, ENDPOINT.port))
        slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        # Meanwhile a normal request is answered at once.
        self.assertEqual(send("POST", b"{}", signed("ListKeys", b"{}"))[0], 200)
        slow.settimeout(30)
        started = time.monotonic()
        answer = slow.recv(4096)
        self.assertIn(b" 408 ", answer.split(b"\r\n")[0] + b" ")
        self.assertLess(time.monotonic() - started, 25)
        slow.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
