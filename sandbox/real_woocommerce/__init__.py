"""Real WooCommerce stores on loopback (10.0.2 with HPOS, 7.9.0 on posts storage): the judge of the sandbox.

`retail-sync sandbox real-woocommerce [--store NAME] [--stop]` brings them up for people; the test suite's
`real_store` fixture does the same for the contract tests.
"""
import argparse

from sandbox.real_woocommerce.lab import RELEASES, LabError, RealStore, archives_available, running, sql, start, stop

__all__ = ["RELEASES", "LabError", "RealStore", "archives_available", "main", "running", "sql", "start", "stop"]


def main(argv: list[str] | None = None) -> int:
    """`real-woocommerce [--store woocommerce_10|woocommerce_7|all] [--stop]`"""
    parser = argparse.ArgumentParser(prog="real-woocommerce", description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=[*RELEASES, "all"], default="all")
    parser.add_argument("--stop", action="store_true", help="stop the store's processes (its data stays)")
    args = parser.parse_args(argv)
    releases = RELEASES.values() if args.store == "all" else [RELEASES[args.store]]
    try:
        for release in releases:
            if args.stop:
                stop(release)
                print(f"{release.name}: stopped")
                continue
            store = start(release)
            storage = "HPOS" if store.hpos else "posts storage"
            print(f"{store.name}: WooCommerce {store.woocommerce} ({storage}) at {store.url}\n"
                  f"  consumer key {store.consumer_key}\n  consumer secret {store.consumer_secret}\n"
                  f"  lab {store.lab}")  # fmt: skip
    except LabError as error:
        print(f"real-woocommerce: {error}")
        return 1
    return 0
