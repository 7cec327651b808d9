"""In-app notices: balance changes (余额变动), arrivals (到账), failures, alerts to staff."""
