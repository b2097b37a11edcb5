"""What kube-apiserver does with a KMS v2 plugin, against kms-k8s-plugin (issue 19).

Stubs are generated from our proto/k8s/kms/v2/api.proto at test time with grpcio-tools; the
calls carry the apiserver's default 3 s deadline. One phase per run, named by the first
argument; KMSPluginTests starts the plugin and kmsd, and changes the world between phases:

  start      Status, Encrypt of a 32-byte seed, Decrypt with key_id and annotations; every bad
             input answered with a clean gRPC error, and the plugin healthy afterwards
  rotated    (after RotateKeyOnDemand) a new key_id; the old ciphertext still decrypts
  down       (kmsd stopped) healthz not ok within a few seconds; UNAVAILABLE, quickly
  recovered  (kmsd started again) healthy again by itself; old ciphertexts decrypt

Environment: KMS_PLUGIN_SOCKET, KMS_PROTO_ROOT (proto/), KMS_STUB_DIR, KMS_STATE_FILE (JSON
kept between phases), KMS_OTHER_CIPHERTEXT and KMS_OTHER_KEY_ARN (a seed under another key,
same cluster context).
"""

import base64
import json
import os
import re
import sys
import time

DEADLINE = 3.0  # kube-apiserver's default KMS v2 timeout
FAILURES = []


def stubs():
    out = os.environ["KMS_STUB_DIR"]
    proto_root = os.environ["KMS_PROTO_ROOT"]
    if not os.path.exists(os.path.join(out, "k8s", "kms", "v2", "api_pb2_grpc.py")):
        from grpc_tools import protoc
        import grpc_tools

        include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        status = protoc.main([
            "protoc", f"-I{proto_root}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}",
            "k8s/kms/v2/api.proto",
        ])
        if status != 0:
            raise SystemExit(f"protoc failed: {status}")
    sys.path.insert(0, out)
    from k8s.kms.v2 import api_pb2, api_pb2_grpc  # noqa: E402

    return api_pb2, api_pb2_grpc


import grpc  # noqa: E402

pb, pb_grpc = stubs()


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


def channel():
    return grpc.insecure_channel("unix://" + os.environ["KMS_PLUGIN_SOCKET"])


def code_of(call):
    """The gRPC status code of a call expected to fail, with its message, and how long it took."""
    started = time.monotonic()
    try:
        call()
    except grpc.RpcError as error:
        return error.code(), error.details(), time.monotonic() - started
    return grpc.StatusCode.OK, "", time.monotonic() - started


def load_state():
    path = os.environ["KMS_STATE_FILE"]
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def save_state(state):
    with open(os.environ["KMS_STATE_FILE"], "w") as f:
        json.dump(state, f)


def encode(ciphertext, annotations, key_id, seed):
    return {
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "annotations": {k: base64.b64encode(v).decode() for k, v in annotations.items()},
        "key_id": key_id,
        "seed": base64.b64encode(seed).decode(),
    }


def decode(saved):
    return (
        base64.b64decode(saved["ciphertext"]),
        {k: base64.b64decode(v) for k, v in saved["annotations"].items()},
        saved["key_id"],
        base64.b64decode(saved["seed"]),
    )


FQDN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")


def encrypt_seed(stub, status_key_id):
    seed = os.urandom(32)
    reply = stub.Encrypt(pb.EncryptRequest(plaintext=seed, uid="uid-encrypt"), timeout=DEADLINE)
    check(0 < len(reply.ciphertext) < 1024, f"ciphertext of {len(reply.ciphertext)} bytes, not 1..1023")
    check(0 < len(reply.key_id) < 1024, f"key_id of {len(reply.key_id)} characters")
    check(reply.key_id == status_key_id, f"Encrypt's key_id {reply.key_id!r} is Status's {status_key_id!r}")
    check(seed not in reply.ciphertext, "the seed appears in its ciphertext")
    size = 0
    for key, value in reply.annotations.items():
        check(FQDN.match(key) is not None, f"annotation key {key!r} is a fully qualified domain name")
        size += len(key) + len(value)
    check(0 < size < 32 * 1024, f"annotations of {size} bytes")
    plain = stub.Decrypt(
        pb.DecryptRequest(ciphertext=reply.ciphertext, uid="uid-decrypt", key_id=reply.key_id,
                          annotations=dict(reply.annotations)),
        timeout=DEADLINE,
    )
    check(plain.plaintext == seed, "Decrypt gives the seed back")
    return reply.ciphertext, dict(reply.annotations), reply.key_id, seed


def status(stub):
    return stub.Status(pb.StatusRequest(), timeout=DEADLINE)


def phase_start(stub):
    reply = status(stub)
    check(reply.version == "v2", f"version {reply.version!r}")
    check(reply.healthz == "ok", f"healthz {reply.healthz!r}")
    check(0 < len(reply.key_id) < 1024, f"key_id {reply.key_id!r}")
    ciphertext, annotations, key_id, seed = encrypt_seed(stub, reply.key_id)
    # A second Encrypt gives another ciphertext of another seed under the same key id.
    again = encrypt_seed(stub, reply.key_id)
    check(again[0] != ciphertext, "two seeds, two ciphertexts")
    save_state({"first": encode(ciphertext, annotations, key_id, seed)})

    invalid = grpc.StatusCode.INVALID_ARGUMENT

    def decrypt(ct, ann):
        return lambda: stub.Decrypt(pb.DecryptRequest(ciphertext=ct, uid="u", key_id=key_id, annotations=ann),
                                    timeout=DEADLINE)

    cases = {
        "empty plaintext": (lambda: stub.Encrypt(pb.EncryptRequest(plaintext=b"", uid="u"), timeout=DEADLINE),
                            invalid),
        "plaintext over 4096 bytes": (
            lambda: stub.Encrypt(pb.EncryptRequest(plaintext=b"x" * 4097, uid="u"), timeout=DEADLINE), invalid),
        # Refused by the transport's 64 KiB bound before it is read whole: grpc-swift's transport
        # resets the stream (RST_STREAM CANCEL) rather than answering RESOURCE_EXHAUSTED while
        # the client still sends, so the client may see either.
        "a 1 MiB message": (
            lambda: stub.Encrypt(pb.EncryptRequest(plaintext=b"x" * (1 << 20), uid="u"), timeout=DEADLINE),
            (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED)),
        "empty ciphertext": (decrypt(b"", annotations), invalid),
        "ciphertext over 1 kB": (decrypt(b"c" * 2000, annotations), invalid),
        "tampered ciphertext": (decrypt(ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]), annotations), invalid),
        "truncated ciphertext": (decrypt(ciphertext[:20], annotations), invalid),
        "no annotations": (decrypt(ciphertext, {}), invalid),
        "unknown format version": (
            decrypt(ciphertext, {**annotations, **{k: b"2" for k in annotations if k.startswith("version.")}}),
            invalid),
        "annotations naming another key": (
            decrypt(ciphertext, {**annotations, **{k: os.environ["KMS_OTHER_KEY_ARN"].encode()
                                                   for k in annotations if k.startswith("key-arn.")}}),
            invalid),
        "annotations over 32 kB": (decrypt(ciphertext, {**annotations, "big.example.com": b"b" * 40000}), invalid),
        "a seed under another key, annotated as ours": (
            decrypt(base64.b64decode(os.environ["KMS_OTHER_CIPHERTEXT"]), annotations), invalid),
    }
    for name, (call, expected) in cases.items():
        code, message, took = code_of(call)
        expected = expected if isinstance(expected, tuple) else (expected,)
        check(code in expected, f"{name}: {code} ({message}), expected {expected}")
        check(took < DEADLINE, f"{name}: answered in {took:.2f} s")
        check(ciphertext.hex() not in message, f"{name}: the message holds no ciphertext")
    # Nothing above harmed the plugin.
    check(status(stub).healthz == "ok", "healthy after the bad inputs")
    encrypt_seed(stub, status(stub).key_id)


def phase_rotated(stub):
    state = load_state()
    ciphertext, annotations, old_key_id, seed = decode(state["first"])
    deadline = time.monotonic() + 15
    reply = status(stub)
    while reply.key_id == old_key_id and time.monotonic() < deadline:
        time.sleep(0.2)
        reply = status(stub)
    check(reply.key_id != old_key_id, f"a new key_id after the rotation (still {reply.key_id!r})")
    check(reply.healthz == "ok", f"healthz {reply.healthz!r}")
    plain = stub.Decrypt(pb.DecryptRequest(ciphertext=ciphertext, uid="u", key_id=old_key_id,
                                           annotations=annotations), timeout=DEADLINE)
    check(plain.plaintext == seed, "the ciphertext made before the rotation decrypts")
    new = encrypt_seed(stub, reply.key_id)
    state["rotated"] = encode(*new)
    save_state(state)


def phase_down(stub):
    started = time.monotonic()
    reply = status(stub)
    while reply.healthz == "ok" and time.monotonic() - started < 10:
        time.sleep(0.2)
        reply = status(stub)
    check(reply.healthz != "ok", "healthz not ok within 10 s of kmsd stopping")
    print(f"healthz not ok after {time.monotonic() - started:.1f} s: {reply.healthz}", flush=True)
    check(len(reply.key_id) > 0, "a key_id even while unhealthy")
    code, message, took = code_of(lambda: stub.Encrypt(pb.EncryptRequest(plaintext=os.urandom(32), uid="u"),
                                                       timeout=DEADLINE))
    check(code == grpc.StatusCode.UNAVAILABLE, f"Encrypt while kmsd is down: {code} ({message})")
    check(took < DEADLINE, f"Encrypt while kmsd is down answered in {took:.2f} s")
    check("kmsd" in message, f"the message says what is unavailable: {message!r}")
    ciphertext, annotations, key_id, _ = decode(load_state()["first"])
    code, message, took = code_of(lambda: stub.Decrypt(
        pb.DecryptRequest(ciphertext=ciphertext, uid="u", key_id=key_id, annotations=annotations),
        timeout=DEADLINE))
    check(code == grpc.StatusCode.UNAVAILABLE, f"Decrypt while kmsd is down: {code} ({message})")
    check(took < DEADLINE, f"Decrypt while kmsd is down answered in {took:.2f} s")


def phase_recovered(stub):
    started = time.monotonic()
    reply = status(stub)
    while reply.healthz != "ok" and time.monotonic() - started < 60:
        time.sleep(0.5)
        reply = status(stub)
    check(reply.healthz == "ok", f"healthy again by itself: {reply.healthz!r}")
    print(f"healthy again after {time.monotonic() - started:.1f} s", flush=True)
    state = load_state()
    for name in ("first", "rotated"):
        ciphertext, annotations, key_id, seed = decode(state[name])
        plain = stub.Decrypt(pb.DecryptRequest(ciphertext=ciphertext, uid="u", key_id=key_id,
                                               annotations=annotations), timeout=DEADLINE)
        check(plain.plaintext == seed, f"the {name} ciphertext decrypts after the outage")
    encrypt_seed(stub, reply.key_id)


def main():
    phase = sys.argv[1]
    with channel() as ch:
        stub = pb_grpc.KeyManagementServiceStub(ch)
        {"start": phase_start, "rotated": phase_rotated, "down": phase_down, "recovered": phase_recovered}[phase](stub)
    if FAILURES:
        print(f"{phase}: {len(FAILURES)} failures", flush=True)
        sys.exit(1)
    print(f"{phase}: ok", flush=True)


if __name__ == "__main__":
    main()
