"""The boto3 KMS client the suites build: kmsd's AWS JSON endpoint (KMS_AWS_ENDPOINT), region
us-east-1, the admin's access key (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) unless another is
given, one retry (legacy mode's max_attempts), botocore's own parameter checks unless turned off
so that values its model refuses reach the service."""
import os

import boto3
from botocore.config import Config


def kms_client(key_id=None, secret=None, validate=True, retries=1, read_timeout=60):
    return boto3.client(
        "kms",
        endpoint_url=os.environ["KMS_AWS_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id=key_id or os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or os.environ["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": retries}, parameter_validation=validate, read_timeout=read_timeout),
    )


def unprivileged_client(**options):
    """The principal without any permission (KMS_OTHER_ACCESS_KEY_ID / KMS_OTHER_SECRET_ACCESS_KEY)."""
    return kms_client(os.environ["KMS_OTHER_ACCESS_KEY_ID"], os.environ["KMS_OTHER_SECRET_ACCESS_KEY"], **options)
