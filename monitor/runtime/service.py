"""The running netmon: settings → scheduler → probes → store → metrics, and reloads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import Metric

from alerts.coverage import Coverage
from alerts.engine import AckError, AlertEngine
from alerts.notify.telegram_acks import TelegramAcks
from alerts.notify.text import lang_of
from alerts.settings import TelegramReceiver
from monitor.config import Settings, SettingsError, load_settings
from monitor.core.clock import Clock
from monitor.runtime import heap, metrics
from monitor.runtime.history import History
from monitor.runtime.metrics import MetricsRenderer
from monitor.runtime.scheduler import Scheduler
from monitor.runtime.store import Store
from monitor.runtime.traps import TrapReceiver
from probes import PROBES
from probes.context import ProbeContext

log = logging.getLogger(__name__)


class Service:
    def __init__(
        self,
        settings: Settings,
        config_path: Path | None = None,
        *,
        clock: Clock | None = None,
        shard: tuple[int, int] = (1, 1),
    ) -> None:
        self.config_path = config_path
        self.shard = shard
        settings = settings.for_shard(*shard)
        self.started = time.time()
        self.store = Store()
        self.ctx = ProbeContext(state_dir=Path(settings.server.state_dir))
        self.scheduler = Scheduler(settings, self.store, self.ctx, clock=clock)
        self.renderer = MetricsRenderer(self.store)
        # Fed by the store like the renderer; it listens only once start() has read its state.
        self.alerts = AlertEngine(settings, self.store, clock=clock)
        # When each target was watched, in the alert engine's database beside the ledger.
        self.coverage = Coverage(
            self.alerts.db,
            self.store,
            lambda target: self.settings.interval_for(target, self.scheduler.phase),
            clock=clock,
        )
        self.traps = TrapReceiver(settings, self.store)
        # Each target's day, downsampled, for its page (kept in state_dir across restarts).
        self.history = History(
            self.store,
            Path(settings.server.state_dir) / "history.sqlite",
            now=clock.time if clock is not None else time.time,
        )
        self.registry = metrics.service_registry(self._service_metrics)
        self.last_reload_ok = True
        self.last_reload_at = time.time()
        self.last_good_reload_at = self.last_reload_at
        self.last_reload_errors: list[str] = []
        self._reload_lock = asyncio.Lock()
        self._telegram_acks: list[TelegramAcks] = []
        self._warn_unpolled(settings)

    async def start(self) -> None:
        """What needs the loop before probing starts: the alert engine takes back its state."""
        await self.alerts.start()
        self.coverage.start()
        self.history.start()  # reads its file back in the background
        await self.traps.start()  # a taken port is logged and shown in metrics, not raised
        self._start_telegram_acks(self.settings)

    def _start_telegram_acks(self, settings: Settings) -> None:
        """A getUpdates poller per Telegram receiver with ``acknowledge`` (its button)."""
        for name, receiver in settings.alerts.receivers.items():
            if isinstance(receiver, TelegramReceiver) and receiver.acknowledge:
                lang = lang_of(receiver.language, settings.server.language)
                acks = TelegramAcks(
                    name, receiver, lambda: self.alerts.ctx.session, self._acknowledge, lang
                )
                acks.start()
                self._telegram_acks.append(acks)

    async def _stop_telegram_acks(self) -> None:
        acks, self._telegram_acks = self._telegram_acks, []
        for poller in acks:
            await poller.aclose()

    async def _acknowledge(self, key: str, who: str) -> str | None:
        """A Telegram press: the engine's ack; None when done, else why not ("ended",
        "unknown")."""
        try:
            await self.alerts.ack(key, who, "")
        except AckError as exc:
            return "ended" if exc.status == 409 else "unknown"
        return None

    @property
    def settings(self) -> Settings:
        return self.scheduler.settings

    def _warn_unpolled(self, settings: Settings) -> None:
        unpolled = Counter(t.kind for t in settings.targets if t.kind not in PROBES)
        for kind, count in unpolled.items():
            log.warning(
                "%d %s target(s) validated but not polled: the %s poller is not built yet",
                count,
                kind,
                kind,
            )

    async def reload(self) -> list[str]:
        """Re-read the config file. A bad file is refused; the running settings stay."""
        async with self._reload_lock:
            self.last_reload_at = time.time()
            if self.config_path is None:
                self.last_reload_ok = False
                self.last_reload_errors = ["netmon was started without a config file"]
                return self.last_reload_errors
            try:
                # Off the loop, and bounded: load_settings gives up after its time budget
                # (LOAD_BUDGET_SECONDS), so a file that hangs cannot hold this lock forever.
                settings = await asyncio.to_thread(load_settings, self.config_path)
                settings = settings.for_shard(*self.shard)
            except SettingsError as exc:
                self.last_reload_ok = False
                self.last_reload_errors = [str(i) for i in exc.issues]
                for issue in exc.issues:
                    log.error("reload refused: %s", issue)
                return self.last_reload_errors
            except Exception:
                # A bug, not a bad file; still a failed reload, and the running settings stay.
                log.exception("reload of %s failed", self.config_path)
                self.last_reload_ok = False
                self.last_reload_errors = ["the settings could not be loaded (see the log)"]
                return self.last_reload_errors
            self.scheduler.update(settings)
            await self.alerts.update(settings)
            self.traps.update(settings)
            await self._stop_telegram_acks()
            self._start_telegram_acks(settings)
            self._warn_unpolled(settings)
            self.last_reload_ok = True
            self.last_good_reload_at = self.last_reload_at
            self.last_reload_errors = []
            log.info("reloaded %s: %d targets", self.config_path, len(settings.targets))
            return []

    def render_metrics(self) -> str:
        return self.renderer.render_probes() + metrics.render_service(self.registry)

    def render_metrics_bytes(self) -> bytes:
        return self.renderer.render_probes_bytes() + metrics.render_service_bytes(self.registry)

    async def render_metrics_gzip(self) -> bytes:
        """/metrics gzipped: the probes' kept pieces, then netmon's own figures (a few lines,
        read anew each scrape)."""
        return await self.renderer.render_gzip(metrics.render_service_bytes(self.registry))

    def _service_metrics(self) -> Iterable[Metric]:
        stats = self.scheduler.stats
        now = time.monotonic()
        lag = metrics.gauge(
            "netmon_scheduler_lag_seconds",
            "How late probes started against their schedule over the last minute, by quantile.",
            ["quantile"],
        )
        for q, value in stats.lag_quantiles(now, (0.5, 0.9, 0.99, 1.0)).items():
            lag.add_metric([f"{q:g}"], value)
        yield lag
        in_flight = metrics.gauge(
            "netmon_probes_in_flight", "Probes running now, by kind.", ["kind"]
        )
        runs = metrics.counter("netmon_probes", "Probes started, by kind.", ["kind"])
        skipped = metrics.counter(
            "netmon_probes_skipped",
            "Scheduled runs skipped because the previous run of the target was still going.",
            ["kind"],
        )
        for kind in PROBES:
            in_flight.add_metric([kind], stats.in_flight[kind])
            runs.add_metric([kind], stats.runs[kind])
            skipped.add_metric([kind], stats.skipped[kind])
        yield from (in_flight, runs, skipped)
        phase_info = metrics.gauge(
            "netmon_phase_info", "The plan's phases; 1 for the current one.", ["phase", "title"]
        )
        current = self.scheduler.phase
        for phase in self.settings.phases:
            phase_info.add_metric(
                [phase.name, phase.title], 1.0 if current and current.name == phase.name else 0.0
            )
        yield phase_info
        targets = metrics.gauge(
            "netmon_targets", "Configured targets, by kind and group.", ["kind", "group"]
        )
        for (kind, group), count in sorted(
            Counter((t.kind, t.group) for t in self.settings.targets).items()
        ):
            targets.add_metric([kind, group], count)
        yield targets
        reload_ok = metrics.gauge(
            "netmon_config_last_reload_successful",
            "Whether the last configuration reload succeeded.",
        )
        reload_ok.add_metric([], 1.0 if self.last_reload_ok else 0.0)
        reload_at = metrics.gauge(
            "netmon_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded or reloaded successfully.",
        )
        reload_at.add_metric([], self.last_good_reload_at)
        yield from (reload_ok, reload_at)
        tasks = metrics.gauge(
            "netmon_asyncio_tasks", "asyncio tasks alive in the process (flat when none leak)."
        )
        tasks.add_metric([], len(asyncio.all_tasks()))
        yield tasks
        yield from heap.WATCH.metrics()
        yield from self.alerts.metrics()
        yield from self.traps.metrics()

    async def aclose(self) -> None:
        await self._stop_telegram_acks()
        await self.scheduler.aclose()
        await self.traps.aclose()
        await self.coverage.aclose()
        await self.history.aclose()
        await self.alerts.aclose()
        await self.ctx.aclose()
