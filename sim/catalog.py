"""Built-in technology and terminal-category presets, each figure with its source.

Figures marked "assumption" are modelling choices of this project, stated so a user can
override them in a scenario; every other figure names the document it was read in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final

GENERATIONS: Final = ("4G", "5G")


@dataclass(frozen=True)
class AccessProfile:
    """The random-access channel of a technology (what the access layer simulates)."""

    label: str
    preambles: int
    """Contention preambles per random-access opportunity (RAO)."""
    rao_period_ms: float
    """Time between RAOs, ms."""
    source: str


ACCESS_PROFILES: Final[dict[str, AccessProfile]] = {
    "lte-prach": AccessProfile(
        label="LTE PRACH configuration index 6",
        preambles=54,
        rao_period_ms=5.0,
        source=(
            "3GPP TS 36.211 Table 5.7.1-2: configuration index 6 = preamble format 0 in "
            "subframes 1 and 6 of every frame (an RAO every 5 ms); 64 preambles less 10 for "
            "contention-free access, the 3GPP TR 37.868 evaluation setup"
        ),
    ),
    "nb-iot-nprach": AccessProfile(
        label="NB-IoT NPRACH, 40 ms period, 48 subcarriers",
        preambles=48,
        rao_period_ms=40.0,
        source=(
            "3GPP TS 36.331 NPRACH-ConfigSIB-NB: nprach-Periodicity 40..2560 ms and "
            "nprach-NumSubcarriers 12..48; each subcarrier is a preamble (TS 36.211 cl. "
            "10.1.6). The most capable setting is taken; Msg2-4 timings as LTE (assumption)"
        ),
    ),
    "nr-prach": AccessProfile(
        label="NR PRACH, an RAO every 5 ms",
        preambles=54,
        rao_period_ms=5.0,
        source=(
            "assumption: an RACH occasion every 5 ms with 64 preambles less 10 for "
            "contention-free access, as LTE configuration 6 (3GPP TS 38.211 cl. 6.3.3.2 "
            "offers such PRACH configurations); Msg2-4 timings as LTE"
        ),
    ),
}


# 3GPP TS 36.211 Table 5.7.1-2 (frame structure type 1), preamble format 0, configuration
# indices 0..15: the system frames ("even" or "any") and subframes holding a PRACH.
LTE_PRACH_FORMAT0: Final[dict[int, tuple[str, tuple[int, ...]]]] = {
    0: ("even", (1,)), 1: ("even", (4,)), 2: ("even", (7,)),
    3: ("any", (1,)), 4: ("any", (4,)), 5: ("any", (7,)),
    6: ("any", (1, 6)), 7: ("any", (2, 7)), 8: ("any", (3, 8)),
    9: ("any", (1, 4, 7)), 10: ("any", (2, 5, 8)), 11: ("any", (3, 6, 9)),
    12: ("any", (0, 2, 4, 6, 8)), 13: ("any", (1, 3, 5, 7, 9)),
    14: ("any", tuple(range(10))), 15: ("even", (9,)),
}  # fmt: skip
NPRACH_PERIODICITIES_MS: Final = (40, 80, 160, 240, 320, 640, 1280, 2560)
"""3GPP TS 36.331 NPRACH-ConfigSIB-NB nprach-Periodicity."""
NPRACH_SUBCARRIERS: Final = (12, 24, 36, 48)
"""3GPP TS 36.331 NPRACH-ConfigSIB-NB nprach-NumSubcarriers (one preamble each)."""


def lte_prach_timing(index: int) -> tuple[float, float]:
    """(RAO period, offset of the first RAO) in ms of an LTE PRACH configuration index.

    The opportunities of a frame are taken as evenly spaced: exact for every index except
    9-11 (subframes 3, 3 and 4 apart, taken as 10/3 ms).
    """
    frames, subframes = LTE_PRACH_FORMAT0[index]
    span = 20.0 if frames == "even" else 10.0
    return span / len(subframes), float(subframes[0])


@dataclass(frozen=True)
class TechnologySpec:
    """A radio technology for IoT terminals and its registration capacity."""

    label: str
    generation: str
    """Base-station generation that carries it by default ("4G" or "5G")."""
    max_devices_per_cell: int
    """Terminals that can be registered (connected) in one cell at once, terminals/cell."""
    default_site_share: float
    """Share of the generation's sites carrying it when a scenario does not say, 0..1."""
    source: str
    access_profile: str = "lte-prach"
    """Key of ACCESS_PROFILES: the random-access channel the access layer simulates."""


# 52,547 devices per cell-site sector is the capacity requirement that 3GPP set for
# cellular IoT in TR 45.820 (40 devices per household at London household density, 1732 m
# inter-site distance); NB-IoT and LTE-M were both evaluated against it.
_CIOT_CAPACITY_SOURCE = (
    "3GPP TR 45.820 v13.1.0 (2015) capacity objective for cellular IoT, 52,547 devices per "
    "cell-site sector as widely quoted (not read in the TR itself; M. Sauter, 'Cellular IoT "
    "- Part 9 - 50,000 devices per cell', wirelessmoves, 2016, cites TR 45.820 cl. 7.3.6)"
)

TECHNOLOGIES: Final[dict[str, TechnologySpec]] = {
    "nb-iot": TechnologySpec(
        label="NB-IoT",
        generation="4G",
        max_devices_per_cell=52_547,
        default_site_share=0.125,
        source=(
            f"{_CIOT_CAPACITY_SOURCE}; site share: 755,000 NB-IoT base stations over "
            "5.937 M 4G base stations, both MIIT figures for Aug 2022 (China Daily; Xinhua)"
        ),
        access_profile="nb-iot-nprach",
    ),
    "lte-m": TechnologySpec(
        label="LTE-M (eMTC)",
        generation="4G",
        max_devices_per_cell=52_547,
        default_site_share=0.0,
        source=(
            f"{_CIOT_CAPACITY_SOURCE}; site share 0: assumption (LTE-M is little deployed in China)"
        ),
    ),
    "lte-cat1": TechnologySpec(
        label="LTE Cat.1 / Cat.1bis",
        generation="4G",
        max_devices_per_cell=20_000,
        default_site_share=1.0,
        source=(
            "assumption: no 3GPP capacity objective exists for Cat.1; set below the "
            "CIoT objective because Cat.1 terminals use full LTE signalling; on every 4G site"
        ),
    ),
    "lte": TechnologySpec(
        label="LTE (Cat.4 and above)",
        generation="4G",
        max_devices_per_cell=20_000,
        default_site_share=1.0,
        source="assumption: as LTE Cat.1 (same cell, same signalling); on every 4G site",
    ),
    "nr": TechnologySpec(
        label="5G NR",
        generation="5G",
        max_devices_per_cell=52_547,
        default_site_share=1.0,
        source=(
            "assumption: the CIoT objective of 3GPP TR 45.820 per cell; ITU-R M.2410 "
            "connection density 1,000,000 devices/km2 is met by mMTC, not by eMBB NR"
        ),
        access_profile="nr-prach",
    ),
    "nr-redcap": TechnologySpec(
        label="5G NR RedCap",
        generation="5G",
        max_devices_per_cell=52_547,
        default_site_share=1.0,
        source="assumption: as NR (RedCap shares the NR cell; 3GPP TR 38.875 Rel-17)",
        access_profile="nr-prach",
    ),
}


# Category presets: the fields a scenario may override, plus the sources of the figures.
# Lifetimes are means in years; traffic fields are used by the access layer.
_TR45820_TRAFFIC = (
    "3GPP TR 45.820 mobile autonomous reporting model: 40 % of devices report once a day, "
    "40 % every 2 h, 15 % hourly, 5 % every 30 min (as implemented in the ns-3 lorawan "
    "module, periodic-sender-helper.cc); payload 20-200 bytes"
)

CATEGORY_PRESETS: Final[dict[str, dict[str, Any]]] = {
    "water_meter": {
        "lifetime_years": 6.0,
        "technologies": ["nb-iot", "lte-cat1"],
        "mix": {"nb-iot": 0.85, "lte-cat1": 0.15},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 1, "payload_bytes": 100, "synchronized": 0.6},
        "sources": {
            "lifetime_years": (
                "China JJG 162-2019 (verification regulation of water meters): household "
                "meters of DN25 and below used for billing are replaced after at most 6 years"
            ),
            "mix": "assumption: Chinese smart water meters are mostly NB-IoT",
            "traffic": (
                "Huawei, 'Best practices for deploying NB-IoT for smart meters' (2019): one "
                "uplink every 6-24 h, about 100 bytes a day; synchronized share: assumption"
            ),
        },
    },
    "gas_meter": {
        "lifetime_years": 10.0,
        "technologies": ["nb-iot", "lte-cat1"],
        "mix": {"nb-iot": 0.8, "lte-cat1": 0.2},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 1, "payload_bytes": 100, "synchronized": 0.6},
        "sources": {
            "lifetime_years": (
                "China JJG 577-2012 (diaphragm gas meters): household natural-gas meters "
                "are used for at most 10 years"
            ),
            "mix": "assumption",
            "traffic": _TR45820_TRAFFIC + "; synchronized share: assumption",
        },
    },
    "smoke_detector": {
        "lifetime_years": 12.0,
        "technologies": ["nb-iot", "lte-cat1"],
        "mix": {"nb-iot": 0.9, "lte-cat1": 0.1},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 2, "payload_bytes": 50, "synchronized": 0.1},
        "sources": {
            "lifetime_years": (
                "China GB 29837-2013 cl. 6.1.1: fire detectors are scrapped after at most "
                "12 years (NFPA 72: household smoke alarms, 10 years)"
            ),
            "mix": "assumption",
            "traffic": "assumption: a heartbeat twice a day; alarms are rare",
        },
    },
    "tracker": {
        "lifetime_years": 4.0,
        "technologies": ["lte-cat1", "nb-iot"],
        "mix": {"lte-cat1": 0.6, "nb-iot": 0.4},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 48, "payload_bytes": 50, "synchronized": 0.0},
        "sources": {
            "lifetime_years": "assumption: battery-limited asset trackers",
            "mix": "assumption",
            "traffic": _TR45820_TRAFFIC + " (the 30 min class)",
        },
    },
    "vehicle": {
        "lifetime_years": 10.0,
        "technologies": ["lte", "nr"],
        "mix": {"lte": 0.8, "nr": 0.2},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 96, "payload_bytes": 500, "synchronized": 0.0},
        "sources": {
            "lifetime_years": "assumption: the telematics unit lives as long as the car, ~10 years",
            "mix": "assumption",
            "traffic": "assumption: a status report every 15 min while in use",
        },
    },
    "white_goods": {
        "lifetime_years": 10.0,
        "technologies": ["lte-cat1", "nb-iot"],
        "mix": {"lte-cat1": 0.7, "nb-iot": 0.3},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 4, "payload_bytes": 200, "synchronized": 0.0},
        "sources": {
            "lifetime_years": (
                "CHEAA safe-service-life standards (2020): refrigerators and air "
                "conditioners 10 years, washing machines 8 years"
            ),
            "mix": "assumption",
            "traffic": "assumption",
        },
    },
    "street_light": {
        "lifetime_years": 12.0,
        "technologies": ["nb-iot", "lte-cat1"],
        "mix": {"nb-iot": 0.6, "lte-cat1": 0.4},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 24, "payload_bytes": 100, "synchronized": 0.8},
        "sources": {
            "lifetime_years": (
                "US DOE GATEWAY (Kansas City LED street lighting): plan over 12-15 years"
            ),
            "mix": "assumption",
            "traffic": _TR45820_TRAFFIC + " (hourly class); synchronized: switched at dusk",
        },
    },
    "pos_terminal": {
        "lifetime_years": 5.0,
        "technologies": ["lte-cat1", "lte"],
        "mix": {"lte-cat1": 0.9, "lte": 0.1},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 50, "payload_bytes": 300, "synchronized": 0.0},
        "sources": {
            "lifetime_years": "assumption: payment terminals are replaced about every 5 years",
            "mix": "assumption",
            "traffic": "assumption: one transaction message per payment",
        },
    },
    "wearable": {
        "lifetime_years": 3.0,
        "technologies": ["lte", "lte-cat1", "nr-redcap"],
        "mix": {"lte": 0.5, "lte-cat1": 0.5, "nr-redcap": 0.0},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 24, "payload_bytes": 200, "synchronized": 0.0},
        "sources": {
            "lifetime_years": "assumption: consumer wearables are replaced every 2-3 years",
            "mix": "assumption",
            "traffic": "assumption",
        },
    },
    "industrial_sensor": {
        "lifetime_years": 8.0,
        "technologies": ["lte-cat1", "lte", "nr"],
        "mix": {"lte-cat1": 0.5, "lte": 0.3, "nr": 0.2},
        "when_full": "fallback",
        "traffic": {"reports_per_day": 24, "payload_bytes": 200, "synchronized": 0.3},
        "sources": {
            "lifetime_years": "assumption: industrial IoT modules, 7-10 years",
            "mix": "assumption",
            "traffic": _TR45820_TRAFFIC + " (hourly class)",
        },
    },
}


def preset_fields(name: str) -> dict[str, Any]:
    """The scenario fields of a category preset (a deep copy, without its sources)."""
    return copy.deepcopy({k: v for k, v in CATEGORY_PRESETS[name].items() if k != "sources"})
