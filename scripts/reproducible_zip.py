"""Write a Lambda zip holding one file, `bootstrap`, byte for byte the same for the same binary:
a fixed entry time (1980-01-01, the earliest a zip can hold), mode 0755, deflate level 9, and
no extra fields. Usage: reproducible_zip.py BOOTSTRAP OUT.zip"""
import sys
import zipfile

src, out = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    data = f.read()
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.compress_type = zipfile.ZIP_DEFLATED
info.create_system = 3  # Unix, so the mode below is kept
info.external_attr = (0o100755 & 0xFFFF) << 16
with zipfile.ZipFile(out, "w") as z:
    z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
