"""Site-wide assumptions of a capacity plan when none are given (sources in docs/capacity.md)."""

#: Power usage effectiveness (facility power / IT power): between a modern hyperscale hall
#: (about 1.1-1.2) and the industry's average (about 1.5-1.6).
DEFAULT_PUE = 1.3
#: Electricity price per kWh (currency of the user's choosing).
DEFAULT_PRICE = 0.10
