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


def send_raw(body, header_list):
    """POST / with the endpoint's Host, then exactly these (name, value) pairs, repeats included."""
    connection = http.client.HTTPConnection(ENDPOINT.hostname, ENDPOINT.port, timeout=30)
    connection.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
    for name, value in [("Host", ENDPOINT.netloc)] + list(header_list):
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, json.loads(payload) if payload else {}


def signed_without(target, body, leave_out, url=None):
    """Signs a request as botocore does but without the headers in leave_out, which are then
    added unsigned: what an attacker holding a captured request could send."""
    extra = {"X-Amz-Target": f"TrentService.{target}", "Content-Type": "application/x-amz-json-1.1"}
    request = AWSRequest(method="POST", url=(url or os.environ["KMS_AWS_ENDPOINT"]) + "/", data=body,
                         headers={k: v for k, v in extra.items() if k not in leave_out})
    SigV4Auth(CREDENTIALS, "kms", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    headers.update({k: v for k, v in extra.items() if k in leave_out})
    if url:
        # botocore signs the URL's host but leaves the header to the HTTP client: send that one.
        headers["Host"] = urlparse(url).netloc
    return headers


def key_state(key_id):
    status, body, _ = send("POST", json.dumps({"KeyId": key_id}).encode(), signed("DescribeKey", json.dumps({"KeyId": key_id}).encode()))
    assert status == 200, body
    return body["KeyMetadata"]["KeyState"]


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



class SignatureBinding(unittest.TestCase):
    """What a signature must cover: the operation, the host, the content type, the body; and
    that no header it covers may be repeated with another value."""

    @classmethod
    def setUpClass(cls):
        status, body, _ = send("POST", b"{}", signed("CreateKey", b"{}"))
        assert status == 200, body
        cls.key_id = body["KeyMetadata"]["KeyId"]
        cls.body = json.dumps({"KeyId": cls.key_id}).encode()

    def assertRefused(self, result, code, text=None):
        status, body = result[0], result[1]
        self.assertEqual((status, body.get("__type")), (400, code), body)
        if text:
            self.assertIn(text, body["message"])

    def test_a_captured_request_cannot_be_replayed_as_another_operation(self):
        # A DescribeKey signed without its X-Amz-Target, sent as DisableKey and ScheduleKeyDeletion.
        for target in ("DisableKey", "ScheduleKeyDeletion"):
            headers = signed_without("DescribeKey", self.body, {"X-Amz-Target"})
            headers["X-Amz-Target"] = f"TrentService.{target}"
            self.assertRefused(send("POST", self.body, headers), "IncompleteSignatureException", "x-amz-target")
        self.assertEqual(key_state(self.key_id), "Enabled")

    def test_the_content_type_must_be_signed(self):
        headers = signed_without("DescribeKey", self.body, {"Content-Type"})
        self.assertRefused(send("POST", self.body, headers), "IncompleteSignatureException", "content-type")

    def test_any_x_amz_header_must_be_signed(self):
        headers = signed("DescribeKey", self.body)
        headers["X-Amz-Security-Token"] = "anything"
        self.assertRefused(send("POST", self.body, headers), "IncompleteSignatureException", "x-amz-security-token")
        # Signed, the same header is accepted (and ignored).
        headers = signed("DescribeKey", self.body, headers={"X-Amz-Meta-Note": "fine"})
        self.assertEqual(send("POST", self.body, headers)[0], 200)

    def test_a_repeated_header_is_refused(self):
        headers = signed("DescribeKey", self.body)
        for name, value in (("X-Amz-Target", "TrentService.DisableKey"), ("Host", "evil.example"),
                            ("Content-Type", "application/json"), ("Authorization", headers["Authorization"])):
            pairs = list(headers.items()) + [(name, value)]
            self.assertRefused(send_raw(self.body, pairs), "IncompleteSignatureException", "more than one")
        self.assertEqual(key_state(self.key_id), "Enabled")

    def test_a_request_signed_for_another_host_is_refused(self):
        # Signed for evil.example (and sent with that Host): the signature is valid, the host is not ours.
        headers = signed_without("DescribeKey", self.body, set(), url=f"http://evil.example:{ENDPOINT.port}")
        self.assertEqual(headers["Host"], f"evil.example:{ENDPOINT.port}")
        self.assertRefused(send("POST", self.body, headers), "InvalidSignatureException", "not a name this endpoint answers to")
        # The listen address, with or without the port, is ours; localhost too, for a loopback listener.
        for host in (f"127.0.0.1:{ENDPOINT.port}", "localhost"):
            headers = signed_without("DescribeKey", self.body, set(), url=f"http://{host}")
            self.assertEqual(send("POST", self.body, headers)[0], 200, host)
        # kmsd remembers the hosts it accepted, not the ones it refused: still refused after them.
        headers = signed_without("DescribeKey", self.body, set(), url=f"http://evil.example:{ENDPOINT.port}")
        self.assertRefused(send("POST", self.body, headers), "InvalidSignatureException", "not a name this endpoint answers to")

    def test_a_changed_host_breaks_the_signature(self):
        headers = signed("DescribeKey", self.body)
        headers["Host"] = "localhost"
        self.assertRefused(send("POST", self.body, headers), "InvalidSignatureException", "does not match")

    def test_the_content_sha256_header_is_checked(self):
        wrong = signed("DescribeKey", self.body, headers={"X-Amz-Content-SHA256": "0" * 64})
        self.assertRefused(send("POST", self.body, wrong), "InvalidSignatureException", "x-amz-content-sha256")
        unsigned = signed("DescribeKey", self.body, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
        self.assertRefused(send("POST", self.body, unsigned), "IncompleteSignatureException", "UNSIGNED-PAYLOAD")
        import hashlib
        right = signed("DescribeKey", self.body, headers={"X-Amz-Content-SHA256": hashlib.sha256(self.body).hexdigest()})
        self.assertEqual(send("POST", self.body, right)[0], 200)

    def test_a_signed_header_that_is_not_sent_is_named(self):
        headers = signed("DescribeKey", self.body, headers={"X-Amz-Meta-Note": "fine"})
        del headers["X-Amz-Meta-Note"]
        self.assertRefused(send("POST", self.body, headers), "IncompleteSignatureException",
                           "'x-amz-meta-note' is named as a SignedHeader")


if __name__ == "__main__":
    unittest.main(verbosity=2)
