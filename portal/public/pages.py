"""The requester side's plain pages: choosing a right (home), the health check, the privacy policy,
the published §7102 metrics and security.txt."""
from datetime import timedelta

from flask import abort, current_app, render_template, request
from flask_babel import get_locale

from .. import clock, db, policy
from ..lifecycle import REQUEST_TYPES
from ..services.fulfilment import policy_disclosures
from ..services.records import annual_metrics
from ..urls import external_url
from . import bp


@bp.get("/")
@db.reads_only
def home():
    """Choose a right."""
    return render_template("public/home.html", types=REQUEST_TYPES)


@bp.get("/healthz")
@db.reads_only
def healthz():
    """200 with the database reachable, 503 otherwise (the contract's check, for load balancers);
    /readyz, in the ops blueprint, checks the rest: workers, mail, Redis."""
    ok = db.ping()
    return {"status": "ok" if ok else "unavailable", "database": ok}, 200 if ok else 503


@bp.get("/privacy")
def privacy_policy():
    """The privacy policy in force, with its effective date and version: the business's own text,
    then the rights and disclosures built from configuration and the data map."""
    language = str(get_locale())
    return render_template("public/privacy.html", policy=policy.current(language),
                           disclosures=policy_disclosures.configured(language),
                           category_labels=policy_disclosures.category_labels(),
                           unverifiable=policy.statement(current_app.config["NO_REASONABLE_VERIFICATION"], language))


@bp.get("/privacy/metrics")
@db.reads_only
def published_metrics():
    """§7102: the previous calendar year's request metrics, as a page or CSV, when PUBLISH_METRICS."""
    if not current_app.config["PUBLISH_METRICS"]:
        abort(404)
    year = clock.today().year - 1
    result = annual_metrics.for_year(db.session(), year=year)
    if request.args.get("format") == "csv":
        return annual_metrics.metrics_csv(result), 200, {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="privacy-metrics-{year}.csv"'}
    return render_template("public/metrics.html", result=result, year=year)


@bp.get("/.well-known/security.txt")
def security_txt():
    """RFC 9116 security contact, built from configuration."""
    cfg = current_app.config
    expires = clock.now().replace(microsecond=0) + timedelta(days=cfg["SECURITY_TXT_EXPIRES_DAYS"])
    body = "\n".join([
        f"Contact: mailto:{cfg['SECURITY_CONTACT_EMAIL']}",
        f"Contact: {external_url('public.new_inquiry', kind='security')}",
        f"Expires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"Preferred-Languages: {cfg['SECURITY_TXT_LANGUAGES']}",
        f"Policy: {external_url('public.privacy_policy')}",
        f"Canonical: {external_url('public.security_txt')}",
    ]) + "\n"
    return body, 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "max-age=3600"}
