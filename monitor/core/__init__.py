"""The bottom layer: what every other layer may use, importing nothing of netmon.

durations   "500ms", "2m", "21d" parsed and formatted; the pydantic ``Duration`` type
secrets     ``*_env`` and ``*_file`` secrets, resolved without ever printing them
files       reading a file the settings name: regular files only, size-capped, never blocking
clock       the ``Clock`` protocol (wall time, monotonic time, sleep) and the system clock
labels      label-set matching (``{"group": ["carrier", "venue"]}`` against a label set)
i18n        Vietnamese and English words, local time formatting (Asia/Ho_Chi_Minh)
waiting     ``wait_for``: poll a condition until it holds or a deadline passes
"""

__all__: list[str] = []
