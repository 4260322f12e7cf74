"""The queue's counts of open cases, kept by triggers on privacy_request

Revision ID: 0021_open_case_counts
Revises: 0020_metrics_months
Create Date: 2026-11-30 12:00:00

Each trigger only inserts (+1 for the key a case enters, -1 for the key it leaves; once with the due
date in force and once without, due_on NULL, for the views with no due band), so concurrent
transactions never wait on one another's counter; the worker folds the rows (open_counts.compact).
The open statuses are written out as they are today (lifecycle.OPEN); a migration that changes them
replaces these triggers.
"""
import sqlalchemy as sa
from alembic import op

revision = '0021_open_case_counts'
down_revision = '0020_metrics_months'
branch_labels = None
depends_on = None

OPEN = "('awaiting_email', 'in_progress', 'on_hold', 'verifying')"
COLUMNS = "status, request_type, hold_reason, manner, due_on, n"


def _values(which: str, n: int, *, dated: bool) -> str:
    due = f"coalesce({which}.extended_due, {which}.response_due)" if dated else "NULL"
    return f"{which}.status, {which}.request_type, {which}.hold_reason, {which}.manner, {due}, {n}"


def _changed(columns: tuple[str, ...], differ: str) -> str:
    return " OR ".join(f"OLD.{c} {differ} NEW.{c}" for c in columns)


UNDATED = ("status", "request_type", "hold_reason", "manner")
WATCHED = UNDATED + ("extended_due", "response_due")

POSTGRESQL = [f"""
CREATE FUNCTION open_case_count_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    undated_changed boolean := TG_OP <> 'UPDATE' OR {_changed(UNDATED, "IS DISTINCT FROM")};
BEGIN
    IF TG_OP = 'UPDATE' AND NOT ({_changed(WATCHED, "IS DISTINCT FROM")}) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN {OPEN} THEN
        INSERT INTO open_case_count ({COLUMNS}) VALUES ({_values('OLD', -1, dated=True)});
        IF undated_changed THEN
            INSERT INTO open_case_count ({COLUMNS}) VALUES ({_values('OLD', -1, dated=False)});
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status IN {OPEN} THEN
        INSERT INTO open_case_count ({COLUMNS}) VALUES ({_values('NEW', 1, dated=True)});
        IF undated_changed THEN
            INSERT INTO open_case_count ({COLUMNS}) VALUES ({_values('NEW', 1, dated=False)});
        END IF;
    END IF;
    RETURN NULL;
END $$""", f"""
CREATE TRIGGER privacy_request_open_case_count
AFTER INSERT OR DELETE OR UPDATE OF {", ".join(WATCHED)} ON privacy_request
FOR EACH ROW EXECUTE FUNCTION open_case_count_track()"""]

# SQLite has no IS DISTINCT FROM; IS NOT compares NULLs the same way.
SQLITE = [f"""
CREATE TRIGGER privacy_request_open_case_count_insert AFTER INSERT ON privacy_request
WHEN NEW.status IN {OPEN}
BEGIN
    INSERT INTO open_case_count ({COLUMNS}) VALUES ({_values('NEW', 1, dated=True)}), ({_values('NEW', 1, dated=False)});
END""", f"""
CREATE TRIGGER privacy_request_open_case_count_delete AFTER DELETE ON privacy_request
WHEN OLD.status IN {OPEN}
BEGIN
    INSERT INTO open_case_count ({COLUMNS}) VALUES ({_values('OLD', -1, dated=True)}), ({_values('OLD', -1, dated=False)});
END""", f"""
CREATE TRIGGER privacy_request_open_case_count_update AFTER UPDATE OF {", ".join(WATCHED)} ON privacy_request
WHEN {_changed(WATCHED, "IS NOT")}
BEGIN
    INSERT INTO open_case_count ({COLUMNS}) SELECT {_values('OLD', -1, dated=True)} WHERE OLD.status IN {OPEN};
    INSERT INTO open_case_count ({COLUMNS}) SELECT {_values('OLD', -1, dated=False)}
        WHERE OLD.status IN {OPEN} AND ({_changed(UNDATED, "IS NOT")});
    INSERT INTO open_case_count ({COLUMNS}) SELECT {_values('NEW', 1, dated=True)} WHERE NEW.status IN {OPEN};
    INSERT INTO open_case_count ({COLUMNS}) SELECT {_values('NEW', 1, dated=False)}
        WHERE NEW.status IN {OPEN} AND ({_changed(UNDATED, "IS NOT")});
END"""]


def upgrade():
    op.create_table('open_case_count',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('status', sa.String(length=24), nullable=False),
                    sa.Column('request_type', sa.String(length=16), nullable=False),
                    sa.Column('hold_reason', sa.String(length=32), nullable=True),
                    sa.Column('manner', sa.String(length=16), nullable=False),
                    sa.Column('due_on', sa.Date(), nullable=True),
                    sa.Column('n', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_open_case_count')))
    op.create_index('ix_open_case_count_due_on', 'open_case_count', ['due_on'])
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)
    # The cases open now, counted after the triggers exist and in the same transaction.
    for due, group in (("coalesce(extended_due, response_due)", ", coalesce(extended_due, response_due)"),
                       ("CAST(NULL AS DATE)", "")):
        op.execute(f"INSERT INTO open_case_count ({COLUMNS}) SELECT status, request_type, hold_reason, manner, "
                   f"{due}, count(*) FROM privacy_request WHERE status IN {OPEN} "
                   f"GROUP BY status, request_type, hold_reason, manner{group}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER privacy_request_open_case_count ON privacy_request")
        op.execute("DROP FUNCTION open_case_count_track()")
    else:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER privacy_request_open_case_count_{event}")
    op.drop_table('open_case_count')
