"""Moving data between providers: export, import, migrate, verify — streaming, resumable."""

from asyncdb.transfer._checkpoint import Checkpoint, fingerprint
from asyncdb.transfer._engine import TransferReport, export_collections, import_file, migrate
from asyncdb.transfer._fit import Misfit, TargetLimitError
from asyncdb.transfer._progress import Progress
from asyncdb.transfer._verify import Difference, VerifyReport, content_hash, verify

__all__ = [
    "Checkpoint",
    "Difference",
    "Misfit",
    "Progress",
    "TargetLimitError",
    "TransferReport",
    "VerifyReport",
    "content_hash",
    "export_collections",
    "fingerprint",
    "import_file",
    "migrate",
    "verify",
]
