"""deploycheck.images: proof.screenshot."""
import io
import os
import struct
import zlib

from PIL import Image, ImageDraw

from deploycheck.images import inspect_image, proof_screenshot
from deploycheck.discovery import Target
from tests.helpers import make_target


def shot(w=800, h=500, fmt="PNG", blank=False, mode="RGB"):
    img = Image.new(mode, (w, h), "white" if mode == "RGB" else (255, 255, 255, 0))
    if not blank:
        d = ImageDraw.Draw(img)
        d.rectangle([w // 10, h // 10, w // 2, h // 3], fill="navy")
        d.text((30, h // 2), "prediction: [1]", fill="black")
    b = io.BytesIO()
    img.save(b, fmt)
    return b.getvalue()


def png_header_only(w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")


def test_pass_png(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/screenshot.png": shot()}))
    assert o.status == "passed" and "aws_deploy/screenshot.png" in o.message and "800×500" in o.message


def test_pass_jpeg_gif_webp(tmp_path):
    for i, (name, fmt) in enumerate([("p.jpg", "JPEG"), ("p.gif", "GIF"), ("p.webp", "WEBP")]):
        o = proof_screenshot(make_target(tmp_path / str(i), {f"gcp_deploy/{name}": shot(fmt=fmt)}, "gcp"))
        assert o.status == "passed", (name, o.message)


def test_no_image(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/README.md": "# x"}))
    assert o.status == "failed"
    assert o.message.startswith("no screenshot in aws_deploy/: add a PNG/JPG showing a prediction")


def test_too_small(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/shot.png": shot(40, 30)}))
    assert o.status == "failed" and "aws_deploy/shot.png is 40×30 pixels" in o.message


def test_blank(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/shot.png": shot(blank=True)}))
    assert o.status == "failed" and "blank (a single colour)" in o.message
    o = proof_screenshot(make_target(tmp_path / "t", {"aws_deploy/shot.png": shot(blank=True, mode="RGBA")}))
    assert o.status == "failed" and "blank" in o.message


def test_unreadable(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/shot.png": b"not an image at all"}))
    assert o.status == "failed" and "is not a readable image" in o.message
    truncated = shot()[:300]
    o = proof_screenshot(make_target(tmp_path / "b", {"aws_deploy/shot.png": truncated}))
    assert o.status == "failed" and "not a readable image" in o.message


def test_decompression_bomb_is_refused_without_decoding(tmp_path):
    o = proof_screenshot(make_target(tmp_path, {"aws_deploy/bomb.png": png_header_only(100_000, 100_000)}))
    assert o.status == "failed" and ("decompression bomb" in o.message or "too large" in o.message)
    o = proof_screenshot(make_target(tmp_path / "b", {"aws_deploy/big.png": png_header_only(9000, 8000)}))
    assert o.status == "failed" and ("too large" in o.message or "bomb" in o.message)


def test_symlinked_image_does_not_count(tmp_path):
    real = tmp_path / "elsewhere.png"
    real.write_bytes(shot())
    t = make_target(tmp_path, {"aws_deploy/README.md": "# x\n\n![proof](shot.png)\n"})
    os.symlink(real, tmp_path / "repo" / "aws_deploy" / "shot.png")
    t = make_target(tmp_path, {})
    o = proof_screenshot(t)
    assert o.status == "failed" and "symlink" in o.message


def test_readme_embedded_image_elsewhere_in_repo(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/README.md": "# x\n\n![proof](../docs/img/pred.png)\n",
                        "docs/img/pred.png": shot()})
    o = proof_screenshot(t)
    assert o.status == "passed" and "docs/img/pred.png" in o.message


def test_good_image_wins_over_bad_ones(tmp_path):
    t = make_target(tmp_path, {"aws_deploy/a_icon.png": shot(20, 20), "aws_deploy/screenshot_endpoint.png": shot()})
    o = proof_screenshot(t)
    assert o.status == "passed" and "screenshot_endpoint.png" in o.message


def test_inspect_image_directly(tmp_path):
    (tmp_path / "x.png").write_bytes(shot())
    assert inspect_image(tmp_path, "x.png", "x.png").ok


def test_no_folder(tmp_path):
    t = make_target(tmp_path, {"a.txt": "x"})
    o = proof_screenshot(Target("stu", None, t.submission, "stu"))
    assert o.status == "failed" and o.blocked_by == "structure.deploy_folder"
