"""One kiosk assembly (facegate.kiosk) for the command line and the window: the same settings give both the same
listeners, in the same order, and the same site rules (a site kiosk needs its log, learns nothing, runs from the
replica of the server's people)."""

import json

import pytest

from facegate.cli import build_parser, headless_kiosk, run_settings
from facegate.config import Settings, save_settings
from facegate.errors import FaceGateError
from facegate.kiosk import SITE_NEEDS_LOG, Kiosk, KioskView, close_parts

# Nothing listens there: the webhook keeps its events in the outbox and says it is down. A site server that is
# not there is never reached either: a kiosk assembled but not started has not connected yet.
WEBHOOK = "http://127.0.0.1:9/facegate"
SITE = "postgresql://front_door@127.0.0.1:9/facegate"


def _built_in(kiosk: Kiosk, view) -> list[str]:
    """The kiosk's listeners by kind, the view itself named "view"."""
    return ["view" if listener is view else type(listener).__name__ for listener in kiosk.session.listeners]


def _cli_kiosk(home, clip, *extra: str) -> tuple[Kiosk, KioskView]:
    args = build_parser().parse_args(["run", "--headless", "--source", str(clip), *extra])
    view = KioskView()
    return headless_kiosk(args, run_settings(args), view), view


def _window_kiosk(qtbot, settings: Settings):
    from facegate.ui.main_window import MainWindow

    window = MainWindow(settings)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.engine is not None, timeout=120_000)
    return window


def _stop(kiosk: Kiosk) -> None:
    kiosk.stop()
    close_parts(kiosk.access_log, kiosk.speech)


@pytest.mark.parametrize("site", [False, True], ids=["alone", "site"])
def test_the_cli_and_the_window_assemble_the_same_kiosk(qtbot, home, clips, site):
    clip = clips / "short_hamilton_clip.mp4"
    settings = Settings(source=str(clip), gallery=str(home / "gallery"), log_dir=str(home / "log"), speech=False,
                        webhook_url=WEBHOOK, database_url=SITE if site else "", demonstration=True)
    save_settings(settings)  # what `facegate run` reads
    cli, view = _cli_kiosk(home, clip)
    try:
        from_cli = _built_in(cli, view)
        cli_gallery = type(cli.session.pipeline.gallery).__name__
    finally:
        _stop(cli)
    window = _window_kiosk(qtbot, settings)
    try:
        assert window.kiosk is not None
        assert window.video.demonstration  # a webhook driven by a recording: the screen says DEMONSTRATION
        from_window = _built_in(window.kiosk, window.bridge)
        window_gallery = type(window.gallery).__name__
        window_site = window.site
    finally:
        window.shutdown()
    assert from_cli == from_window
    assert cli_gallery == window_gallery == ("SiteGallery" if site else "Gallery")
    if site:  # the site link forwards from the log, and a site's kiosks learn nothing of their own
        assert from_cli == ["AccessLogListener", "PassagesListener", "ActionsListener", "view", "SiteSync"]
        assert window_site is not None and window_site.door == settings.door()
    else:
        assert from_cli == ["AccessLogListener", "PassagesListener", "ActionsListener", "LearningListener", "view"]


def test_a_site_kiosk_without_its_log_is_refused_by_both(qtbot, home, clips, tmp_path):
    clip = clips / "short_hamilton_clip.mp4"
    not_a_folder = tmp_path / "log-is-a-file"
    not_a_folder.write_text("")
    settings = Settings(source=str(clip), gallery=str(home / "gallery"), log_dir=str(not_a_folder), speech=False,
                        database_url=SITE)
    save_settings(settings)
    with pytest.raises(FaceGateError, match=SITE_NEEDS_LOG):
        _cli_kiosk(home, clip, "--no-log")
    window = _window_kiosk(qtbot, settings)
    try:
        assert window.access_log is None and window.kiosk is None
        assert SITE_NEEDS_LOG in window.video.message
    finally:
        window.shutdown()


def test_the_cli_view_prints_what_the_kiosk_says(capsys):
    from facegate.actions.worker import ActionHealth, HealthState
    from facegate.cli import _json_lines_view
    from facegate.site.sync import SiteEvent

    view = _json_lines_view()
    assert isinstance(view, KioskView)
    view.on_action_health(ActionHealth("webhook", HealthState.DOWN, "connection refused"))
    view.on_site_event(SiteEvent.OFFLINE, {"problem": "no route", "waiting": 3})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [{"type": "action", "action": "webhook", "state": "down", "message": "connection refused"},
                     {"type": "site", "event": "offline", "problem": "no route", "waiting": 3}]
