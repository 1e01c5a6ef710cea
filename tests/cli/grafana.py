"""What Grafana does to a panel's SQL before PostgreSQL sees it, for tests that cannot
run Grafana: template variables interpolated as its SQL datasources interpolate
them (a single value as it is; a multi-value or All variable as its values quoted
and joined with commas), then the PostgreSQL datasource's macros expanded as its
macro engine expands them (pkg/tsdb/grafana-postgresql-datasource/macros.go)."""
import re
from datetime import datetime, timezone

# Grafana's variable syntaxes: $name, ${name}, ${name:format}, [[name]]
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::[^}]+)?\}|\[\[(\w+)\]\]")
# the macro engine's: $__name(args), args without ')'
MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def rfc3339(t):
    """Go's time.RFC3339Nano of a UTC time: no fraction when it is zero."""
    t = t.astimezone(timezone.utc)
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += ("." + f"{t.microsecond:06d}").rstrip("0")
    return s + "Z"


def interval_seconds(text):
    m = re.fullmatch(r"(\d+)([smhdw])", text.strip("'"))
    if not m:
        raise ValueError(f"interval {text!r}")
    return int(m.group(1)) * UNITS[m.group(2)]


def go_float(x):
    """%v of a Go float64 that is a whole number of seconds."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def sql_quote(v):
    return "'" + str(v).replace("'", "''") + "'"


def interpolate(text, values, multi):
    """values: name -> a string or a list of strings; multi: names that are multi-value
    or include All. Names starting with __ (Grafana's own) are left alone; an unknown
    name raises KeyError."""
    def rep(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name.startswith("__"):
            return m.group(0)
        v = values[name]
        if name in multi or isinstance(v, list):
            return ",".join(sql_quote(x) for x in (v if isinstance(v, list) else [v]))
        return v
    return VARIABLE.sub(rep, text)


def expand_macros(sql, frm, to):
    def evaluate(name, args, whole):
        if name == "__time":
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {args[0]}) as "time"'
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{rfc3339(frm)}' AND '{rfc3339(to)}'"
        if name == "__timeFrom":
            return f"'{rfc3339(frm)}'"
        if name == "__timeTo":
            return f"'{rfc3339(to)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            secs = go_float(interval_seconds(args[1]))
            g = f"floor(extract(epoch from {args[0]})/{secs})*{secs}"
            return g + ' AS "time"' if name == "__timeGroupAlias" else g
        if name == "__unixEpochFilter":
            return (f"{args[0]} >= {int(frm.timestamp())} AND {args[0]} <= "
                    f"{int(to.timestamp())}")
        if name in ("__unixEpochGroup", "__unixEpochGroupAlias"):
            secs = go_float(interval_seconds(args[1]))
            g = f"floor(({args[0]})/{secs})*{secs}"
            return g + ' AS "time"' if name == "__unixEpochGroupAlias" else g
        raise ValueError(f"unknown macro {name!r} in {whole!r}")

    def rep(m):
        name = m.group(1)
        # as Grafana: $__timeGroup followed by ',' is the old form of the alias
        if name == "__timeGroup" and sql[m.end():m.end() + 1] == ",":
            name = "__timeGroupAlias"
        args = [a.strip() for a in m.group(2).split(",")]
        return evaluate(name, args, m.group(0))
    return MACRO.sub(rep, sql)


def to_utc(d):
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
