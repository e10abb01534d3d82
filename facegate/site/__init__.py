"""A site with several doors: one people list and one access log on a PostgreSQL server.

Without `database_url` nothing here runs: a kiosk keeps its gallery folder and SQLite log, alone.

With it, the server holds the people, their photos, their embeddings (per model version, `CACHE_FORMAT`) and
every door's access log with snapshots. Each kiosk keeps working from local copies, so the door never waits for
the network:

    server: people -> photos -> embeddings          events (event_id UUID primary key, door, snapshot, ...)
              | NOTIFY facegate_people <name>            ^ INSERT ... ON CONFLICT (event_id) DO NOTHING
              v                                          |
    kiosk:  SiteSync thread -> replica gallery folder    local SQLite access log (the durable outbox)
            (a SessionListener)    (recognition reads it) (every decision is committed here first)

`SiteSync` LISTENs on one connection; a change to a person (enrolled, photos added, removed) is sent by the
server's triggers at commit, and the kiosk copies that one person (or erases them: photos, embeddings, and, once
its waiting decisions are sent, their rows and snapshots in the local log). On every (re)connection it compares
the whole people list. Decisions are forwarded from the local log, oldest first, and marked forwarded only after
the server committed them; a kiosk killed in between sends them again, and the server takes each event id once.
While the server is unreachable the kiosk recognises from its replica and keeps its decisions in the local log;
`status()` says since when and how many wait ("Site server: offline since 10:42, 17 events waiting").

Roles (least privilege, made by `facegate site init`): `facegate_kiosk` reads people, photos and embeddings and
inserts events, nothing else (it cannot delete or change a person, nor read any door's log); `facegate_admin`
enrolls, removes and reads the log. Give each kiosk and each administrator a login role of their own in one of
them. A removal leaves a tombstone (name, enrolled at, removed at; nothing biometric). A kiosk's late event naming
someone the server no longer has is dropped by a trigger when it was decided while they were enrolled (an erasure
is not undone by a late kiosk), and kept as a security event (`after_removal` in its details: the removal's time
and since when the door was offline) when it was decided after the removal; its snapshot is deleted after
SECURITY_SNAPSHOT_DAYS. The kiosk sends its waiting decisions before it erases a removed person's rows. A kiosk
offline longer than `site_offline_grant_s` refuses everyone (facegate/access_rules.py, OfflineBound).

Access rules (issue 31, facegate/site/access.py): the site's access plan lives in tables (access_settings,
access_groups, access_holidays, access_people, access_passback) written by `facegate_admin` only; each kiosk's
SiteSync copies it, at each connection and each change, into the text file beside its replica that its
AccessPlanFile follows (offline, the door keeps honouring its copy). The server keeps each person's last grant at each
door (`passages`, from the events: anti-passback across doors) and erases the people whose access ended longer ago
than the plan's retention when a kiosk's periodic pass asks it (`facegate_erase_expired()`), as a removal does.

The password is never printed or logged: every message shows the URL through `redact()`.

Three modules, one per side of the server: schema.py (the schema, its migrations, roles and grants, the
connection), admin.py (what a login in facegate_admin does: enroll, remove, import, read every door's log; the
window's SiteGallery), sync.py (what a kiosk does: its replica and SiteSync). This package file imports none of
them: import the one you need.
"""
