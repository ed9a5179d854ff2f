"""``[report]``: who signs the availability report and what it is held to.

    [report]
    agency = "Sở Khoa học và Công nghệ tỉnh Đắk Lắk"      # the header's first line
    department = "Trung tâm Giám sát, điều hành đô thị thông minh (IOC)"
    place = "Đắk Lắk"                                      # "Đắk Lắk, ngày 08 tháng 12 năm 2026"
    min_coverage = 90                                      # percent: under it, a figure is marked
    [report.sla]                                           # availability goals, in percent
    default = 99.0
    carrier = { viettel = 99.9, vnpt = 99.9 }              # by the label ``carrier``
    group = { website = 99.5 }
    [[report.signers]]                                     # the signature block, left to right
    title = "Người lập biểu"
    [[report.signers]]
    title = "Giám đốc"
    name = "Nguyễn Văn A"

Names are data, not code: the agency and department are what the province calls them on the
day (the 2025 reorganisation merged departments), never constants. A target's goal is its
carrier's, else its group's, else ``default``; an aggregate's is its carrier's or group's.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from monitor.core.settings_model import SettingsModel

__all__ = ["ReportSettings", "SignerSettings", "SlaSettings"]

_Percent = float


def _goal(value: float) -> float:
    if not 0 < value <= 100:
        raise ValueError("an availability goal is a percent in (0, 100]")
    return value


class SlaSettings(SettingsModel):
    default: _Percent | None = Field(default=None, gt=0, le=100)
    carrier: dict[str, _Percent] = Field(default_factory=dict)
    group: dict[str, _Percent] = Field(default_factory=dict)

    @field_validator("carrier", "group")
    @classmethod
    def _goals(cls, goals: dict[str, float]) -> dict[str, float]:
        for value in goals.values():
            _goal(value)
        return goals

    def for_target(self, carrier: str | None, group: str) -> float | None:
        if carrier is not None and carrier in self.carrier:
            return self.carrier[carrier]
        return self.group.get(group, self.default)

    def for_aggregate(self, level: str, name: str) -> float | None:
        """``level`` is "carrier", "group" or "total"."""
        if level == "carrier":
            return self.carrier.get(name, self.default)
        if level == "group":
            return self.group.get(name, self.default)
        return self.default


class SignerSettings(SettingsModel):
    title: str = Field(min_length=1, max_length=120)  # "Giám đốc", "Người lập biểu"
    name: str = Field(default="", max_length=120)


class ReportSettings(SettingsModel):
    agency: str = Field(default="", max_length=200)
    department: str = Field(default="", max_length=200)
    place: str = Field(default="", max_length=100)
    min_coverage: float = Field(default=90.0, gt=0, le=100)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    signers: list[SignerSettings] = Field(default_factory=list, max_length=6)
