"""The bottom layer: what every other layer may use, importing nothing of netmon.

durations   "500ms", "2m", "21d" parsed and formatted; the pydantic ``Duration`` type
secrets     ``*_env`` and ``*_file`` secrets, resolved without ever printing them
files       reading a file the settings name: regular files only, size-capped, never blocking
clock       the ``Clock`` protocol (wall time, monotonic time, sleep) and the system clock
labels      label-set matching (``{"group": ["carrier", "venue"]}`` against a label set)
i18n        Vietnamese and English words, local time formatting (Asia/Ho_Chi_Minh)
waiting     ``wait_for``: poll a condition until it holds or a deadline passes
tasks       ``stop_task``: cancel a background task and await its end
localtime   times as people type them: local dates and times, or RFC 3339
sandbox     the jinja2 sandbox of the http receiver's templates (imported by name, when used)
"""

__all__: list[str] = []
