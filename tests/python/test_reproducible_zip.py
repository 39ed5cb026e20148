"""scripts/reproducible_zip.py: the same binary gives the same zip whatever its file time, so an
unchanged commit does not redeploy the functions (Terraform compares source_code_hash)."""

import os
import pathlib
import stat
import subprocess
import sys
import zipfile

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "reproducible_zip.py"


def make_zip(src: pathlib.Path, out: pathlib.Path) -> bytes:
    subprocess.run([sys.executable, str(SCRIPT), str(src), str(out)], check=True)
    return out.read_bytes()


def test_the_same_binary_gives_the_same_zip_at_any_file_time(tmp_path):
    src = tmp_path / "bootstrap"
    src.write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
    os.utime(src, (1_000_000_000, 1_000_000_000))
    first = make_zip(src, tmp_path / "a.zip")
    os.utime(src, (1_800_000_000, 1_800_000_000))
    second = make_zip(src, tmp_path / "b.zip")
    assert first == second
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        [info] = z.infolist()
        assert info.filename == "bootstrap"
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert stat.S_IMODE(info.external_attr >> 16) == 0o755
        assert z.read("bootstrap") == src.read_bytes()
    # A different binary gives a different zip.
    src.write_bytes(b"\x7fELF changed")
    assert make_zip(src, tmp_path / "c.zip") != first
