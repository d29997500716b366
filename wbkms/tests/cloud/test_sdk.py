"""The official KMS SDK for Python (tencentcloud-sdk-python-kms) against `wbkms serve`.

Every one of the thirteen white-box actions through the SDK's own request and response
models, TC3-HMAC-SHA256 signed by the SDK; the key file from DescribeWhiteBoxDecryptKey
decrypted by wbdecrypt; and the errors a client sees, as TencentCloudSDKException codes.
Run by run.sh, which starts the server and passes, in the environment: WBKMS_ENDPOINT
(host:port), ADMIN_ID/ADMIN_KEY, OPERATOR_ID/OPERATOR_KEY, READER_ID/READER_KEY, WBDECRYPT,
FINGERPRINT (this device's).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from tencentcloud.common import abstract_client, credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.kms.v20190118 import kms_client, models

ENDPOINT = os.environ["WBKMS_ENDPOINT"]


def client(role: str, secret_key: str | None = None, secret_id: str | None = None) -> kms_client.KmsClient:
    cred = credential.Credential(
        secret_id or os.environ[f"{role.upper()}_ID"],
        secret_key or os.environ[f"{role.upper()}_KEY"],
    )
    http = HttpProfile(protocol="http", endpoint=ENDPOINT)
    return kms_client.KmsClient(cred, "ap-guangzhou", ClientProfile(httpProfile=http))


def req(model, **fields):
    r = model()
    r.from_json_string(json.dumps(fields))
    return r


def error_code(call) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        call()
    return info.value.get_code()


def new_alias() -> str:
    return f"sdk-{uuid.uuid4().hex[:8]}"


class _OwnSecond:
    """The `time` module as the SDK sees it, except that `time()` never gives the same second
    twice. The service accepts a signature once, and the SDK signs only content-type and host
    with a timestamp in seconds: two calls with one body in one second (DisableWhiteBoxKey
    then DescribeWhiteBoxKey of a key) are one signature, and the second is refused as a
    replay (test_a_signature_is_accepted_once). Each call here is signed in a second of its
    own, at most a second ahead per earlier call, well inside the 300 s the service accepts.
    One clock serves the whole session: a clock per test would start again at the wall
    clock, behind the seconds an earlier test already signed in, and a later test's call with
    an earlier test's body (the parametrized workflow's DescribeWhiteBoxKeyDetails) would
    repeat a signature."""

    def __init__(self) -> None:
        self.last = 0

    def time(self) -> float:
        self.last = max(int(time.time()), self.last + 1)
        return float(self.last)

    def __getattr__(self, name):
        return getattr(time, name)


_CLOCK = _OwnSecond()


@pytest.fixture(autouse=True)
def own_seconds(monkeypatch):
    monkeypatch.setattr(abstract_client, "time", _CLOCK)


@pytest.fixture(scope="module")
def admin() -> kms_client.KmsClient:
    return client("admin")


def test_service_status(admin):
    r = admin.DescribeWhiteBoxServiceStatus(models.DescribeWhiteBoxServiceStatusRequest())
    assert r.ServiceEnabled is True
    assert len(r.RequestId) == 36


@pytest.mark.parametrize("algorithm,number", [("AES_256", "0"), ("SM4", "1")])
def test_the_whole_workflow(admin, tmp_path: Path, algorithm: str, number: str):
    alias = new_alias()
    created = admin.CreateWhiteBoxKey(
        req(models.CreateWhiteBoxKeyRequest, Alias=alias, Algorithm=algorithm, Description="from the SDK",
            Tags=[{"TagKey": "team", "TagValue": "payments"}])
    )
    key_id = created.KeyId
    assert uuid.UUID(key_id)
    assert base64.b64decode(created.DecryptKey)[:4] == b"\x89WBK"
    assert created.TagCode == 0

    info = admin.DescribeWhiteBoxKey(req(models.DescribeWhiteBoxKeyRequest, KeyId=key_id)).KeyInfo
    assert isinstance(info, models.WhiteboxKeyInfo)
    assert (info.KeyId, info.Alias, info.Description, info.Algorithm, info.Status) == (
        key_id, alias, "from the SDK", algorithm, "Enabled")
    assert isinstance(info.CreateTime, int) and abs(info.CreateTime - time.time()) < 600
    assert isinstance(info.CreatorUin, int) and info.CreatorUin == info.OwnerUin
    assert info.ResourceId == f"creatorUin/{info.CreatorUin}/{key_id}"
    assert info.DeviceFingerprintBind is False
    assert base64.b64decode(info.DecryptKey)[:4] == b"\x89WBK"

    listed = admin.DescribeWhiteBoxKeyDetails(
        req(models.DescribeWhiteBoxKeyDetailsRequest, KeyStatus=1, Offset=0, Limit=100,
            TagFilters=[{"TagKey": "team", "TagValue": ["payments", "other"]}])
    )
    assert key_id in [k.KeyId for k in listed.KeyInfos]
    assert listed.TotalCount >= 1
    assert all(isinstance(k, models.WhiteboxKeyInfo) and k.Status == "Enabled" for k in listed.KeyInfos)

    secret = b"sk_live_" + algorithm.encode()
    enc = admin.EncryptByWhiteBox(
        req(models.EncryptByWhiteBoxRequest, KeyId=key_id, PlainText=base64.b64encode(secret).decode()))
    assert len(base64.b64decode(enc.InitializationVector)) == 16

    fp = os.environ["FINGERPRINT"]
    admin.OverwriteWhiteBoxDeviceFingerprints(
        req(models.OverwriteWhiteBoxDeviceFingerprintsRequest, KeyId=key_id,
            DeviceFingerprints=[{"Identity": fp, "Description": "this machine"},
                                {"Identity": "wbfp1-" + "e" * 40, "Description": "another"}]))
    devices = admin.DescribeWhiteBoxDeviceFingerprints(
        req(models.DescribeWhiteBoxDeviceFingerprintsRequest, KeyId=key_id)).DeviceFingerprints
    assert [(d.Identity, d.Description) for d in devices] == [
        (fp, "this machine"), ("wbfp1-" + "e" * 40, "another")]
    assert admin.DescribeWhiteBoxKey(req(models.DescribeWhiteBoxKeyRequest, KeyId=key_id)).KeyInfo.DeviceFingerprintBind

    decrypt_key = admin.DescribeWhiteBoxDecryptKey(
        req(models.DescribeWhiteBoxDecryptKeyRequest, KeyId=key_id)).DecryptKey
    (tmp_path / "k.wbkey").write_bytes(base64.b64decode(decrypt_key))
    out = subprocess.run(
        [os.environ["WBDECRYPT"], "--key-dir", str(tmp_path), "--key-file", "k.wbkey",
         "--iv", enc.InitializationVector, "--ciphertext", enc.CipherText, "--algorithm", number],
        capture_output=True, check=True)
    assert out.stdout == secret
    # Bound: another device is refused with 01000016.
    other = subprocess.run(
        [os.environ["WBDECRYPT"], "--key-dir", str(tmp_path), "--key-file", "k.wbkey",
         "--iv", enc.InitializationVector, "--ciphertext", enc.CipherText, "--algorithm", number,
         "--fingerprint", "wbfp1-" + "d" * 40],
        capture_output=True)
    assert other.returncode != 0 and other.stderr.startswith(b"error 01000016")

    admin.DisableWhiteBoxKey(req(models.DisableWhiteBoxKeyRequest, KeyId=key_id))
    assert admin.DescribeWhiteBoxKey(req(models.DescribeWhiteBoxKeyRequest, KeyId=key_id)).KeyInfo.Status == "Disabled"
    assert error_code(lambda: admin.EncryptByWhiteBox(
        req(models.EncryptByWhiteBoxRequest, KeyId=key_id, PlainText="AA=="))) == "ResourceUnavailable.CmkDisabled"
    disabled = admin.DescribeWhiteBoxKeyDetails(req(models.DescribeWhiteBoxKeyDetailsRequest, KeyStatus=0))
    assert key_id in [k.KeyId for k in disabled.KeyInfos]
    admin.EnableWhiteBoxKey(req(models.EnableWhiteBoxKeyRequest, KeyId=key_id))
    admin.DisableWhiteBoxKeys(req(models.DisableWhiteBoxKeysRequest, KeyIds=[key_id]))
    admin.EnableWhiteBoxKeys(req(models.EnableWhiteBoxKeysRequest, KeyIds=[key_id]))
    assert admin.DescribeWhiteBoxKey(req(models.DescribeWhiteBoxKeyRequest, KeyId=key_id)).KeyInfo.Status == "Enabled"

    admin.DeleteWhiteBoxKey(req(models.DeleteWhiteBoxKeyRequest, KeyId=key_id))
    assert error_code(lambda: admin.DescribeWhiteBoxKey(
        req(models.DescribeWhiteBoxKeyRequest, KeyId=key_id))) == "ResourceUnavailable.CmkNotFound"


def test_signature_errors(admin, monkeypatch):
    status = models.DescribeWhiteBoxServiceStatusRequest()
    assert error_code(lambda: client("admin", secret_key="x" * 32).DescribeWhiteBoxServiceStatus(status)) \
        == "AuthFailure.SignatureFailure"
    assert error_code(lambda: client("admin", secret_id="AKID" + "0" * 32).DescribeWhiteBoxServiceStatus(status)) \
        == "AuthFailure.SignatureFailure"  # as a wrong key: an id cannot be tested alone
    # The SDK stamps requests with time.time(): ten minutes late.
    late = time.time() - 600
    monkeypatch.setattr(abstract_client.time, "time", lambda: late)
    assert error_code(lambda: admin.DescribeWhiteBoxServiceStatus(status)) == "AuthFailure.SignatureExpire"


def test_roles_and_parameter_errors(admin):
    reader, operator = client("reader"), client("operator")
    alias = new_alias()
    key_id = admin.CreateWhiteBoxKey(req(models.CreateWhiteBoxKeyRequest, Alias=alias, Algorithm="SM4")).KeyId
    # A reader describes, without key files; may not encrypt, download or create.
    info = reader.DescribeWhiteBoxKey(req(models.DescribeWhiteBoxKeyRequest, KeyId=key_id)).KeyInfo
    assert info.KeyId == key_id and info.DecryptKey is None and info.EncryptKey is None
    for call in (
        lambda: reader.EncryptByWhiteBox(req(models.EncryptByWhiteBoxRequest, KeyId=key_id, PlainText="AA==")),
        lambda: reader.DescribeWhiteBoxDecryptKey(req(models.DescribeWhiteBoxDecryptKeyRequest, KeyId=key_id)),
        lambda: reader.CreateWhiteBoxKey(req(models.CreateWhiteBoxKeyRequest, Alias=new_alias(), Algorithm="SM4")),
        lambda: operator.DeleteWhiteBoxKey(req(models.DeleteWhiteBoxKeyRequest, KeyId=key_id)),
    ):
        assert error_code(call) == "AuthFailure.UnauthorizedOperation"
    # An operator encrypts and downloads.
    operator.EncryptByWhiteBox(req(models.EncryptByWhiteBoxRequest, KeyId=key_id, PlainText="AA=="))
    assert operator.DescribeWhiteBoxDecryptKey(req(models.DescribeWhiteBoxDecryptKeyRequest, KeyId=key_id)).DecryptKey
    # Parameter errors, by the KMS's codes.
    assert error_code(lambda: admin.CreateWhiteBoxKey(
        req(models.CreateWhiteBoxKeyRequest, Alias=alias, Algorithm="SM4"))) == "InvalidParameterValue.AliasAlreadyExists"
    assert error_code(lambda: admin.DescribeWhiteBoxKey(
        req(models.DescribeWhiteBoxKeyRequest, KeyId="not-a-key-id"))) == "InvalidParameterValue.InvalidKeyId"
    assert error_code(lambda: admin.DescribeWhiteBoxKey(
        req(models.DescribeWhiteBoxKeyRequest, KeyId=str(uuid.uuid4())))) == "ResourceUnavailable.CmkNotFound"
    assert error_code(lambda: admin.EncryptByWhiteBox(
        req(models.EncryptByWhiteBoxRequest, KeyId=key_id, PlainText="not base64!"))) == "InvalidParameterValue.InvalidPlaintext"
    assert error_code(lambda: admin.DescribeWhiteBoxKey(models.DescribeWhiteBoxKeyRequest())) == "MissingParameter"
    too_many = [{"Identity": f"wbfp1-{i:040x}"} for i in range(1001)]
    assert error_code(lambda: admin.OverwriteWhiteBoxDeviceFingerprints(
        req(models.OverwriteWhiteBoxDeviceFingerprintsRequest, KeyId=key_id, DeviceFingerprints=too_many))) \
        == "LimitExceeded.FingerprintsLimitExceeded"
    admin.DeleteWhiteBoxKey(req(models.DeleteWhiteBoxKeyRequest, KeyId=key_id))


def test_a_signature_is_accepted_once(admin, monkeypatch):
    # A request captured on the wire, sent again (or with X-TC-Action changed: the SDK does not
    # sign it) within the 300 s window, is refused: the service remembers each signature.
    frozen = _CLOCK.time()  # a second no earlier call was signed in
    monkeypatch.setattr(abstract_client.time, "time", lambda: frozen)
    status = models.DescribeWhiteBoxServiceStatusRequest()
    assert admin.DescribeWhiteBoxServiceStatus(status).ServiceEnabled
    assert error_code(lambda: admin.DescribeWhiteBoxServiceStatus(status)) == "AuthFailure.SignatureFailure"
