"""One NB-IoT terminal alone at each coverage level: its access delay and its energy per
report follow in closed form from the sourced profile (`sim/access/data/profiles.csv`).

With detection certain and no HARQ loss a lone terminal succeeds at its first attempt on
its start level, so its delay is the level's timeline read off the configuration:

    preamble (repetitions x 6.4 ms) + window start + RAR (NPDCCH + NPDSCH repetitions)
    + k0 before Msg3 + Msg3 (resource units x repetitions) + processing + Msg4,

which is `Level.minimum_delay_ms`, and its time per step is `ideal_step_ms(level)`, so its
energy per report is those times at the catalog's power figures plus the data phase.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.access.cell import STEPS, simulate_cell
from sim.access.energy import data_phase, energy_per_report_mj, ideal_step_ms, power_model
from sim.access.profiles import profile

NB_IOT = profile("nb-iot").replace(detection="certain", harq_retransmission_probability=0.0)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_a_lone_terminal_takes_its_levels_timeline(level: int) -> None:
    configured = NB_IOT.levels[level]
    outcome = simulate_cell(np.array([0.0]), NB_IOT, np.random.default_rng(1), 1.0,
                            start_level=np.array([level]))  # fmt: skip
    assert outcome.success[0]
    assert outcome.transmissions[0] == 1
    assert outcome.final_level[0] == level
    # the delay counts from the level's first RAO, which the report at t = 0 waits for
    assert outcome.delay_ms[0] == pytest.approx(configured.minimum_delay_ms, abs=1e-9)
    assert outcome.step_ms[0] == pytest.approx(ideal_step_ms(configured), abs=1e-9)
    # the hand sum of the timeline: every term is a profile figure
    assert configured.minimum_delay_ms == pytest.approx(
        configured.preamble_ms + configured.preamble_processing_ms + configured.rar_ms
        + configured.rar_processing_ms + configured.msg3_ms
        + configured.connection_request_processing_ms + configured.msg4_ms
    )  # fmt: skip
    power = power_model("nb-iot")
    data = data_phase("nb-iot", [level], 100.0, 0.0)
    expected = (sum(t * p for t, p in zip(ideal_step_ms(configured), power.step_mw, strict=True))
                / 1000.0 + float(data.energy_mj(power)[0]))  # fmt: skip
    energy = energy_per_report_mj(outcome.step_ms, power, data, outcome.success)
    assert float(energy[0]) == pytest.approx(expected, rel=1e-12)
    assert len(STEPS) == outcome.step_ms.shape[1]


def test_deeper_coverage_never_shortens_the_delay_or_lowers_the_energy() -> None:
    """CE1 and CE2 repeat every message more: a lone terminal's delay and access energy
    grow with the level."""
    delays, energies = [], []
    power = power_model("nb-iot")
    for level in range(3):
        outcome = simulate_cell(np.array([0.0]), NB_IOT, np.random.default_rng(1), 1.0,
                                start_level=np.array([level]))  # fmt: skip
        delays.append(float(outcome.delay_ms[0]))
        energies.append(float(energy_per_report_mj(outcome.step_ms, power)[0]))
    assert delays == sorted(delays)
    assert len(set(delays)) == 3
    assert energies == sorted(energies)
    assert len(set(energies)) == 3
