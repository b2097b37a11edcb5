"""botocore's KMS model as the aws CLI prints responses from it, as JSON on standard output:
"operations", operation → its output shape (null without one); "shapes", structure → its members
in the model's order, each [member, the structure it holds (directly or as a list) or null].
Run by Tests/KMSServerTests/CLIOutputTests.swift, which checks kms's member order
(AWSJSON.members(of:), generated from the proto) against it."""
import gzip
import json
import os

import botocore

model_dir = os.path.join(os.path.dirname(botocore.__file__), "data", "kms", "2014-11-01")
with gzip.open(os.path.join(model_dir, "service-2.json.gz")) as f:
    model = json.load(f)
shapes = model["shapes"]


def structure(name):
    shape = shapes[name]
    if shape["type"] == "list":
        return structure(shape["member"]["shape"])
    return name if shape["type"] == "structure" else None


print(json.dumps({
    "operations": {op: spec.get("output", {}).get("shape") for op, spec in model["operations"].items()},
    "shapes": {
        name: [[member, structure(spec["shape"])] for member, spec in shape["members"].items()]
        for name, shape in shapes.items() if shape["type"] == "structure"
    },
}))
