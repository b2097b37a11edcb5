#!/usr/bin/env python3
"""Drives moto's KMS (moto_server) through the AWS JSON API with boto3, for the peer column of
docs/benchmarks.md. Closed loop: THREADS workers, each with its own boto3 client, for SECONDS.
Prints one JSON object: throughput, errors and latency percentiles in milliseconds.

usage: bench-moto.py ENDPOINT_URL OPERATION PAYLOAD THREADS SECONDS
OPERATION: GenerateDataKey, Decrypt, Encrypt or Mix (GenerateDataKey and Decrypt, 50/50).
Credentials: boto3's own chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...; kmsd's AWS JSON endpoint
checks them), else moto's "testing".
"""
import json
import os
import sys
import threading
import time

import boto3
from botocore.config import Config


def main():
    url, operation, payload, threads, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    config = Config(retries={"max_attempts": 1}, max_pool_connections=threads + 1)
    configured = boto3.Session().get_credentials() is not None
    credentials = {} if configured else {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

    def client():
        return boto3.client("kms", endpoint_url=url, region_name="us-east-1", config=config, **credentials)

    setup = client()
    key = setup.create_key(Description="bench")["KeyMetadata"]["KeyId"]
    blob = setup.generate_data_key(KeyId=key, KeySpec="AES_256")["CiphertextBlob"]
    plaintext = os.urandom(payload)
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(index):
        kms, mine, failed, n = client(), [], 0, index
        while time.monotonic() < deadline:
            n += 1
            start = time.perf_counter()
            try:
                op = operation if operation != "Mix" else ("GenerateDataKey" if n % 2 else "Decrypt")
                if op == "GenerateDataKey":
                    kms.generate_data_key(KeyId=key, KeySpec="AES_256")
                elif op == "Decrypt":
                    kms.decrypt(CiphertextBlob=blob)
                else:
                    kms.encrypt(KeyId=key, Plaintext=plaintext)
            except Exception:  # noqa: BLE001 - every failure counts the same here
                failed += 1
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] if latencies else 0

    print(json.dumps({"throughput": len(latencies) / elapsed, "requests": len(latencies), "failed": errors[0],
                      "latencyMs": {"p50": pct(50), "p99": pct(99)}}))


if __name__ == "__main__":
    main()
