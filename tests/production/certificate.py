"""A self-signed certificate for loopback, made with openssl (the production check and the tests)."""
import subprocess
from pathlib import Path


def self_signed(folder: Path, name: str = "localhost") -> tuple[Path, Path]:
    """Write folder/fullchain.pem and folder/privkey.pem for `name` and 127.0.0.1; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    key.chmod(0o600)
    return cert, key
