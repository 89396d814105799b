"""Product images: validation of uploads and thumbnails made once, when an image is saved."""

import io
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
#: 10 MB: a phone photo fits; anything bigger is a mistake or an attack.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: 40 megapixels (8000 x 5000). Pillow's own limit only warns below twice its default (89 MP),
#: so a small file claiming a huge canvas would be decoded: we refuse it before that.
MAX_PIXELS = 40_000_000
MIN_SIDE = 100
#: Size name -> longest side in pixels, the sizes the pages show.
THUMBNAIL_SIZES = {"small": 160, "card": 480, "large": 1200}


def validate_product_image(file) -> None:
    """Refuse anything that is not a real, reasonably sized JPEG, PNG, WebP or GIF."""
    if file.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("The image is larger than %(limit)d MB.") % {"limit": MAX_UPLOAD_BYTES // 2**20}
        )
    position = file.tell()
    try:
        file.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                if image.format not in ALLOWED_FORMATS:
                    raise ValidationError(
                        _("Upload a JPEG, PNG, WebP or GIF image; this file is %(format)s.")
                        % {"format": image.format}
                    )
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ValidationError(
                        _("The image is %(width)d x %(height)d pixels; at most 40 megapixels.")
                        % {"width": width, "height": height}
                    )
                if min(width, height) < MIN_SIDE:
                    raise ValidationError(
                        _("The image is too small: at least %(side)d pixels on each side.")
                        % {"side": MIN_SIDE}
                    )
                image.verify()
    except ValidationError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ValidationError(_("This file is not an image we can use.")) from None
    except (OSError, SyntaxError, ValueError):  # truncated or corrupt data
        raise ValidationError(_("This image file is damaged.")) from None
    finally:
        file.seek(position)


@dataclass(frozen=True)
class Thumbnail:
    url: str
    width: int | None
    height: int | None

    @classmethod
    def from_record(cls, record: dict | None, *, fallback, size: str) -> "Thumbnail":
        if record:
            return cls(default_storage.url(record["name"]), record["width"], record["height"])
        # Not made yet (an image saved outside the services): the original, scaled by CSS.
        return cls(fallback.url, None, None)


def make_thumbnails(image_field) -> dict:
    """Write a WebP of each size next to the original; returns the record to store."""
    records = {}
    stem = PurePosixPath(image_field.name).with_suffix("")
    with Image.open(image_field.open("rb")) as original:
        original = ImageOps.exif_transpose(original)
        if original.mode not in ("RGB", "RGBA"):
            original = original.convert("RGBA" if "transparency" in original.info else "RGB")
        for size, longest in THUMBNAIL_SIZES.items():
            copy = original.copy()
            copy.thumbnail((longest, longest), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            copy.save(buffer, format="WEBP", quality=82, method=4)
            name = default_storage.save(f"{stem}_{size}.webp", ContentFile(buffer.getvalue()))
            records[size] = {"name": name, "width": copy.width, "height": copy.height}
    image_field.close()
    return records
