"""How long one argon2id hash and one verification take with the configured parameters.

Every sign-in attempt (known email or not) costs one verification, so this bounds the sign-in
latency and how many attempts per second one core can absorb. Run: python benchmarks/staff_password_hashing.py
"""
import statistics
import time

from portal import create_app
from portal.services.staff import accounts


def main(rounds: int = 10) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": "/tmp/portal-bench-instance"})
    with app.app_context():
        cfg = app.config
        print(f"argon2id t={cfg['ARGON2_TIME_COST']} m={cfg['ARGON2_MEMORY_KIB']} KiB p={cfg['ARGON2_PARALLELISM']}")
        hashes, verifies, dummies = [], [], []
        for _ in range(rounds):
            start = time.perf_counter()
            digest = accounts.hash_password("correct horse battery staple")
            hashes.append(time.perf_counter() - start)
            start = time.perf_counter()
            accounts.verify_password(digest, "a wrong password, for timing")
            verifies.append(time.perf_counter() - start)
            start = time.perf_counter()
            accounts.verify_password(None, "an unknown account, for timing")
            dummies.append(time.perf_counter() - start)
        for label, values in (("hash", hashes), ("verify (wrong password)", verifies), ("verify (unknown email)", dummies)):
            print(f"{label:26s} median {statistics.median(values) * 1000:6.1f} ms  max {max(values) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
