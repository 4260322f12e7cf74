"""The services' packages import only what their `__init__.py` says they may: the edge (DRP,
records, staff, fulfilment, clients) depends on the core (cases), the core on the base (identity, documents,
delivery, consent), never the other way. Read from the code's own imports."""
import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "portal" / "services"
CROSS_CUTTING = {"audit", "health"}
MAY_IMPORT = {
    "identity": set(),
    "documents": set(),
    "consent": set(),
    "delivery": {"documents"},
    "cases": {"identity", "documents", "delivery"},
    "drp": {"cases", "identity", "documents", "delivery"},
    "records": {"cases", "documents", "delivery"},
    "staff": {"cases", "delivery"},
    "fulfilment": {"cases", "identity", "documents", "delivery"},
    "clients": {"cases", "identity", "documents", "delivery", "fulfilment", "drp"},
    "checklist": {"delivery", "fulfilment"},
}


def imported_packages(package: Path) -> dict[str, set[str]]:
    """Module of `package` -> the other service packages it imports."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(SERVICES).with_suffix("").parts
        base = ["portal", "services", *rel[:-1]]
        others = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = [*anchor, *(node.module.split(".") if node.module else [])]
            else:
                target = (node.module or "").split(".")
            for name in [target] + [[*target, alias.name] for alias in node.names]:
                if name[:2] == ["portal", "services"] and len(name) > 2 and name[2] != package.name:
                    others.add(name[2])
        found["/".join(rel)] = others - CROSS_CUTTING
    return found


def test_every_capability_is_a_package_that_says_what_it_owns():
    packages = {p.name for p in SERVICES.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert packages == set(MAY_IMPORT)
    for name in packages:
        assert ast.get_docstring(ast.parse((SERVICES / name / "__init__.py").read_text())), name


def test_packages_import_only_what_they_may():
    wrong = [f"{module} imports {sorted(others - MAY_IMPORT[name])}"
             for name in MAY_IMPORT
             for module, others in imported_packages(SERVICES / name).items()
             if others - MAY_IMPORT[name]]
    assert not wrong, "imports against the direction of the house (docs/architecture.md):\n" + "\n".join(wrong)


def test_the_reader_sees_imports():
    """The rule would pass vacuously if no import were seen: the known ones are there."""
    cases = imported_packages(SERVICES / "cases")
    assert "identity" in cases["cases/verification"] and "delivery" in cases["cases/transitions"]
    assert "cases" in imported_packages(SERVICES / "drp")["drp/exchange"]
