"""Every operation of botocore's KMS model has its `kms` subcommand, offering an option for
every member of its request (in the aws CLI's kebab-case), but for what this service does not
serve yet, named below; those that
botocore pages (paginators-1.json), and they alone, follow the pages as the aws CLI does (they
take its --page-size).
KMS_CLI is the kms binary; run by Tests/KMSServerTests/CLITests.swift."""
import gzip
import json
import os
import re
import subprocess
import sys

import botocore

NOT_YET = {}  # operation → why it has no command yet
NOT_YET_MEMBERS = set()  # request members no command offers yet


def kebab(name):
    name = re.sub(r"(?<!^)(?=[A-Z][a-z])", "-", name)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


model_dir = os.path.join(os.path.dirname(botocore.__file__), "data", "kms", "2014-11-01")
with gzip.open(os.path.join(model_dir, "service-2.json.gz")) as f:
    model = json.load(f)
with open(os.path.join(model_dir, "paginators-1.json")) as f:
    paginated = json.load(f)["pagination"]
failures = []
for operation, spec in sorted(model["operations"].items()):
    if operation in NOT_YET:
        continue
    run = subprocess.run([os.environ["KMS_CLI"], kebab(operation), "--help"], capture_output=True, text=True)
    text = run.stdout + run.stderr
    if run.returncode != 0 or "USAGE:" not in text:
        failures.append(f"kms {kebab(operation)}: no such command")
        continue
    shape = spec.get("input", {}).get("shape")
    members = model["shapes"][shape]["members"] if shape else {}
    missing = [m for m in members if m not in NOT_YET_MEMBERS and f"--{kebab(m)}" not in text]
    if missing:
        failures.append(f"kms {kebab(operation)}: no option for {', '.join(missing)}")
    if ("--page-size" in text) != (operation in paginated):
        failures.append(f"kms {kebab(operation)}: pages {'not ' if operation in paginated else ''}followed")
for failure in failures:
    print("FAIL:", failure)
print(f"{len(model['operations'])} operations, {len(NOT_YET)} not served yet, {len(failures)} gaps")
sys.exit(1 if failures else 0)
