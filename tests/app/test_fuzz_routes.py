"""Every form, API and route under fuzzed input: never a 5xx, nothing stored on a refusal.

A few hundred examples here; benchmarks/fuzz_routes.py runs 10,000 and more.
"""
import os

import pytest
from hypothesis import HealthCheck, given, settings

from ..drp_agents import DRP_CONFIG
from ..fuzzing import Tally, any_request, check_one, prepare

EXAMPLES = int(os.environ.get("PORTAL_FUZZ_EXAMPLES", "300"))


@pytest.fixture
def app_config(app_config):
    # Rate limits would answer 429 before the input is looked at; the fuzzer wants the handling.
    # DRP on: its routes are fuzzed too, a share of them with signed messages of random shapes.
    return {**app_config, "RATELIMIT_ENABLED": False, "CONSENT_ALLOWED_ORIGINS": ["https://www.billgenix.example"],
            "PROPAGATE_EXCEPTIONS": False, **DRP_CONFIG}


def test_no_route_answers_with_a_server_error_or_stores_on_refusal(app):
    contexts, fixtures, rules = prepare(app)
    tally = Tally()

    # One app and database for all examples, on purpose: state built by earlier examples (cases,
    # consent records) makes later ones reach deeper; each example is checked on its own.
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(any_request(contexts, fixtures, rules))
    def one(request):
        check_one(app, request, tally)
        assert not tally.problems, tally.problems[-1]

    one()
    assert sum(tally.statuses.values()) >= EXAMPLES
    # The fuzzer reached the views, not only the error pages.
    assert any(200 <= code < 400 for code in tally.statuses) and any(400 <= code < 500 for code in tally.statuses)
