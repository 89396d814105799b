"""Pictures on S3-compatible storage (MEDIA_STORAGE=s3): the merchant uploads one through the
admin's product form, its thumbnails are made in the bucket, the product page links to the
bucket and the bucket serves what the page links to.

The bucket is moto's standalone S3 server on a loopback port: the real boto3 and
django-storages code talks HTTP to it, as it would to AWS or MinIO. The storage settings
come from shop/settings.py read in a child process under MEDIA_STORAGE=s3, so the settings'
own code is what is tested."""

import io
import json
import re
import socket
import urllib.request

import boto3
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from moto.server import ThreadedMotoServer
from PIL import Image
from storages.backends.s3 import S3Storage

from catalog.models import Product, ProductImage
from catalog.tests.factories import CategoryFactory, png_bytes
from catalog.tests.test_admin import ADD_PRODUCT, _product_form, _variant_row
from shop.tests.utils import read_settings, run_django

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    """A loopback port nobody holds now (the suite's parallel workers each start a server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


S3_PORT = _free_port()
ENDPOINT = f"http://127.0.0.1:{S3_PORT}"
BUCKET = "shop-media"
S3_ENV = {
    "DEBUG": "true",
    "MEDIA_STORAGE": "s3",
    "AWS_STORAGE_BUCKET_NAME": BUCKET,
    "AWS_S3_ENDPOINT_URL": ENDPOINT,
    "AWS_S3_REGION_NAME": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test-key",
    "AWS_SECRET_ACCESS_KEY": "test-secret",
}

#: What docs/operations.md asks of a real bucket: anyone may read its objects.
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}


@pytest.fixture(scope="module")
def s3_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=S3_PORT, verbose=False)
    server.start()
    yield
    server.stop()


@pytest.fixture
def bucket(s3_server, settings):
    """An empty bucket, and the shop's settings as MEDIA_STORAGE=s3 makes them."""
    client = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    )
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_READ))
    found = read_settings(["STORAGES", "MEDIA_URL"], **S3_ENV)
    settings.STORAGES = found["STORAGES"]
    settings.MEDIA_URL = found["MEDIA_URL"]
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _fetch(url: str) -> bytes:
    assert url.startswith(ENDPOINT + "/")  # the bucket, never the shop
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback http)
        assert response.status == 200
        return response.read()


def test_a_picture_uploaded_in_the_admin_is_kept_in_the_bucket_and_shown_from_it(
    admin_client, client, bucket, django_assert_max_num_queries
):
    assert isinstance(default_storage, S3Storage)
    upload = png_bytes(colour=(200, 30, 30))
    data = _product_form(
        CategoryFactory(),
        [_variant_row("SHIRT", "30.00", counted="4")],
        images=[
            {
                "image": SimpleUploadedFile("shirt.png", upload, content_type="image/png"),
                "alt_text": "A red linen shirt",
                "position": "0",
            }
        ],
    )
    response = admin_client.post(ADD_PRODUCT, data)
    assert response.status_code == 302, response.context["errors"]

    # The original and its three thumbnails are objects in the bucket.
    picture = ProductImage.objects.get(product__slug="linen-shirt")
    keys = {item["Key"] for item in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {picture.image.name} | {t["name"] for t in picture.thumbnails.values()}
    assert bucket.get_object(Bucket=BUCKET, Key=picture.image.name)["Body"].read() == upload

    # The admin's change page previews it from the bucket.
    product = Product.objects.get(slug="linen-shirt")
    change = admin_client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert f'src="{ENDPOINT}/{BUCKET}/{picture.thumbnails["small"]["name"]}"' in change.text

    # The product page links to the bucket, and the bucket serves each picture it links to.
    with django_assert_max_num_queries(20):
        page = client.get(product.get_absolute_url())
    assert page.status_code == 200
    linked = set(re.findall(rf'"({re.escape(ENDPOINT)}/[^"\s]+)"', page.text))
    large = f"{ENDPOINT}/{BUCKET}/{picture.thumbnails['large']['name']}"
    assert large in linked
    for url in linked:
        body = _fetch(url)
        with Image.open(io.BytesIO(body)) as image:
            assert image.format in ("WEBP", "PNG")
    # The browser may load them: the bucket's origin is in the policy's img-src.
    assert read_settings(["CONTENT_SECURITY_POLICY"], **S3_ENV)["CONTENT_SECURITY_POLICY"][
        "DIRECTIVES"
    ]["img-src"] == ["'self'", ENDPOINT]


def test_two_uploads_with_one_name_stay_two_pictures(bucket):
    first = default_storage.save("products/shirt.png", SimpleUploadedFile("a", b"one"))
    second = default_storage.save("products/shirt.png", SimpleUploadedFile("b", b"two"))
    assert first != second
    assert _fetch(default_storage.url(first)) == b"one"
    assert _fetch(default_storage.url(second)) == b"two"


def test_an_unknown_media_storage_is_refused_at_start():
    result = run_django("", DEBUG="true", MEDIA_STORAGE="ftp")
    assert result.returncode != 0
    assert "MEDIA_STORAGE is filesystem or s3." in result.stderr
