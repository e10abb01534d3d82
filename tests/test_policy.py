"""The access decision rule and the greeting rule (pure logic: matches in, decisions out)."""

import pytest

from facegate.matching import Match
from facegate.policy import AccessPolicy, PolicySettings, Verdict

ADA = Match("Ada", 0.35, 0.3, "Bob")
ADA_CLOSE_CALL = Match("Ada", 0.35, 0.01, "Bob")  # under threshold but too close to Bob to tell
DEFAULTS = PolicySettings()
# Between the threshold and unknown_distance: not Ada for sure, not a stranger for sure
GREY = Match("Ada", (DEFAULTS.threshold + DEFAULTS.unknown_distance) / 2, 0.3, "Bob")
STRANGER = Match("Ada", 0.8, 0.02, "Bob")


def feed(policy, track, matches, start=0.0, step=0.033):
    return [d for i, m in enumerate(matches) if (d := policy.add_vote(track, m, start + i * step))]


def test_grant_needs_k_agreeing_votes():
    policy = AccessPolicy(PolicySettings(votes_needed=3, window=5))
    assert feed(policy, 1, [ADA, ADA]) == []
    assert policy.verdict(1) == (Verdict.PENDING, None)
    [decision] = feed(policy, 1, [ADA], start=1.0)
    assert decision.verdict is Verdict.GRANTED and decision.name == "Ada" and decision.greet


def test_close_calls_and_grey_zone_never_grant_nor_reject():
    policy = AccessPolicy()
    assert feed(policy, 1, [ADA_CLOSE_CALL] * 10 + [GREY] * 10) == []
    assert policy.verdict(1) == (Verdict.PENDING, None)


def test_stranger_is_unknown_and_never_greeted():
    policy = AccessPolicy()
    decisions = feed(policy, 1, [STRANGER] * 10)
    assert [d.verdict for d in decisions] == [Verdict.UNKNOWN]
    assert not decisions[0].greet and decisions[0].name is None


def test_empty_gallery_is_unknown():
    policy = AccessPolicy()
    nobody = Match(None, float("inf"), float("inf"))
    assert [d.verdict for d in feed(policy, 1, [nobody] * 3)] == [Verdict.UNKNOWN]


def test_mixed_votes_do_not_grant():
    policy = AccessPolicy(PolicySettings(votes_needed=3, window=5))
    bob = Match("Bob", 0.35, 0.3, "Ada")
    # 3 of the last 5 are for Bob, but Ada has confident votes too: a confused track is never granted
    assert feed(policy, 1, [ADA, bob, ADA, bob, GREY, bob, bob]) == []


def test_unknown_track_that_turns_to_the_camera_is_granted():
    policy = AccessPolicy()
    decisions = feed(policy, 1, [STRANGER] * 3 + [ADA] * 3)
    assert [d.verdict for d in decisions] == [Verdict.UNKNOWN, Verdict.GRANTED]


def test_face_swap_on_a_granted_track_is_re_decided_at_once():
    policy = AccessPolicy()
    feed(policy, 1, [ADA] * 3)
    policy.add_vote(1, STRANGER, 1.0)
    assert policy.verdict(1) == (Verdict.PENDING, None)  # no green box on a stranger while re-deciding
    decisions = feed(policy, 1, [STRANGER] * 2, start=1.1)
    assert [d.verdict for d in decisions] == [Verdict.UNKNOWN]


def test_regained_grant_on_the_same_track_is_not_reported_twice():
    policy = AccessPolicy()
    assert len(feed(policy, 1, [ADA] * 3)) == 1
    assert feed(policy, 1, [GREY] + [ADA] * 3, start=1.0) == []
    assert policy.verdict(1) == (Verdict.GRANTED, "Ada")


def test_one_greeting_per_visit():
    settings = PolicySettings(greeting_cooldown_s=300, absence_reset_s=60)
    policy = AccessPolicy(settings)
    first = feed(policy, 1, [ADA] * 3, start=0.0)
    assert first[0].greet
    policy.person_seen(1, 10.0)
    policy.forget_track(1)  # walked out of view at t=10 ...
    again = feed(policy, 2, [ADA] * 3, start=40.0)  # ... and back 30 s later: same visit
    assert again[0].verdict is Verdict.GRANTED and not again[0].greet
    policy.forget_track(2)
    later = feed(policy, 3, [ADA] * 3, start=200.0)  # away 160 s > absence_reset: a new visit
    assert later[0].greet


def test_cooldown_greets_again_someone_who_stays():
    policy = AccessPolicy(PolicySettings(greeting_cooldown_s=300, absence_reset_s=60))
    assert feed(policy, 1, [ADA] * 3)[0].greet
    for t in range(1, 320, 1):  # stays in view for 5+ minutes, seen on a new track each time (re-detected)
        policy.person_seen(1, float(t))
    policy.forget_track(1)
    assert feed(policy, 2, [ADA] * 3, start=320.0)[0].greet


def test_denied_track_is_never_granted():
    policy = AccessPolicy()
    feed(policy, 1, [ADA] * 2)
    denial = policy.deny(1, 1.0, "liveness check failed")
    assert denial.verdict is Verdict.DENIED and not denial.greet
    assert feed(policy, 1, [ADA] * 5, start=2.0) == []
    assert policy.verdict(1)[0] is Verdict.DENIED


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        PolicySettings(votes_needed=6, window=5)
    with pytest.raises(ValueError):
        PolicySettings(threshold=0.6, unknown_distance=0.5)


def test_an_access_rule_refuses_a_recognised_person_before_the_liveness_check_and_lets_them_in_when_it_allows():
    """Issue 30 item 1b, the seam: the offline bound, on a clock and a site link the test sets. A refusal is DENIED
    with the rule's words and name, starts no liveness check (nobody is asked for requests in vain), is reported
    once, and the same track is granted once the door is back online."""
    from facegate.access_rules import OFFLINE_REASON, AccessRules, OfflineBound

    now = [1000.0]
    link = {"offline_since": 990.0}  # the door lost the server 10 s ago
    rules = AccessRules([OfflineBound(lambda: link["offline_since"], bound_s=5.0)], clock=lambda: now[0])
    policy = AccessPolicy(PolicySettings(votes_needed=3, window=5), liveness_required=True, rules=rules)
    decisions = feed(policy, 1, [ADA] * 6)
    assert [(d.verdict, d.name, d.reason, d.details) for d in decisions] == [
        (Verdict.DENIED, "Ada", OFFLINE_REASON, {"rule": "offline_bound"})]
    assert policy.awaiting_liveness(1) is None and policy.refusal(1).rule == "offline_bound"
    assert not decisions[0].greet

    link["offline_since"] = None  # back online: the next votes ask the rules again, and the check starts
    assert feed(policy, 1, [ADA], start=2.0) == []
    assert policy.awaiting_liveness(1) == "Ada" and policy.refusal(1) is None
    policy.liveness_passed(1, 2.1, {"texture": 0.9})
    [granted] = feed(policy, 1, [ADA], start=2.2)
    assert granted.verdict is Verdict.GRANTED and granted.name == "Ada" and granted.greet


def test_an_access_rule_is_asked_again_at_the_grant_and_not_while_a_granted_face_stays():
    from facegate.access_rules import AccessRules, OfflineBound

    now = [1000.0]
    link = {"offline_since": None}
    rules = AccessRules([OfflineBound(lambda: link["offline_since"], bound_s=5.0)], clock=lambda: now[0])
    policy = AccessPolicy(PolicySettings(votes_needed=3, window=5), liveness_required=True, rules=rules)
    assert feed(policy, 1, [ADA] * 3) == [] and policy.awaiting_liveness(1) == "Ada"
    link["offline_since"], now[0] = 990.0, 1000.0  # the cable is cut during the check, past the bound
    policy.liveness_passed(1, 1.0, {})
    [refused] = feed(policy, 1, [ADA], start=1.1)
    assert refused.verdict is Verdict.DENIED and refused.details["rule"] == "offline_bound"

    link["offline_since"] = None
    policy2 = AccessPolicy(PolicySettings(votes_needed=3, window=5), rules=rules)
    [granted] = feed(policy2, 7, [ADA] * 3)
    assert granted.verdict is Verdict.GRANTED
    link["offline_since"] = 990.0  # offline past the bound while Ada is still at the door: the door opened already
    assert feed(policy2, 7, [ADA] * 5, start=1.0) == [] and policy2.verdict(7) == (Verdict.GRANTED, "Ada")
