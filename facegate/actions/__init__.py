"""Door and building actions on decisions: the door pulse, MQTT (Home Assistant) and a signed webhook.

    session -> ActionsListener.on_decision (returns at once) -> one bounded queue + thread per action
               ActionsListener.on_result: a face that appears during a door pulse is a tailgating alert

listener.py   ActionsListener and build_actions (what facegate.kiosk.build_session calls)
worker.py     one thread and bounded queue per action; health (ok / slow / down) for the status bar
payload.py    the JSON every receiver gets
door.py       the door pulse (fail-secure by the door command's contract); serial_relay.py: a USB relay as one
mqtt.py       MQTT, Home Assistant discovery, last will; published from its own outbox (facegate/outbox.py)
webhook.py    signed POSTs with idempotency keys, retried from facegate/outbox.py (SQLite, survives kill), which
              lives beside the access log it belongs to
webhook_verify.py  the receivers' check of a request, verify() (standard library only: receivers import it)

Kept free of imports: `python -m facegate.actions.serial_relay` runs on every door pulse and must start fast.
"""
