"""A ClamAV signature database the tests write: a content signature (.ndb) for a planted string, and the
official EICAR hash signature (.hdb) where a test needs it. No download: CI has no freshclam."""

import hashlib
import shutil
from pathlib import Path

PLANTED = "SC2-TEST-MALWARE-7f3a9c1e"
SIGNATURE = "MegatronSC2.Test.PlantedString"
FOUND = SIGNATURE + ".UNOFFICIAL"  # ClamAV's name for a signature outside its official databases
EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CLAMD_MISSING = None if shutil.which("clamd") or Path("/usr/sbin/clamd").exists() else \
    "ClamAV's clamd is not installed: apt-get install clamav clamav-daemon"


def signature_db(folder: Path, eicar: bool = False) -> Path:
    folder.mkdir()
    (folder / "planted.ndb").write_text(f"{SIGNATURE}:0:*:{PLANTED.encode().hex()}\n")
    if eicar:  # the official database's EICAR signature is this hash of the 68-byte file
        (folder / "eicar.hdb").write_text(f"{hashlib.md5(EICAR.encode()).hexdigest()}:{len(EICAR)}:Win.Test.EICAR_HDB-1\n")
    return folder
