"""The demand layer: growth curves, terminal lifetimes, the join schedule, dated schedules."""
