-- Networks the tenant's users come back to, for `retrohunt triage suggest`: per ASN, how many
-- users signed in successfully from it (either table) on at least $3 distinct days of the
-- range (or on every day, when the range holds fewer), and how many users signed in at all.
-- Parameters: $1 start, $2 end, $3 days.
WITH signins AS (
    SELECT UserKey, AutonomousSystemNumber AS Asn, date_trunc('day', TimeGenerated) AS Day
    FROM SigninLogs
    WHERE ResultType = '0' AND AutonomousSystemNumber <> ''
      AND TimeGenerated BETWEEN $1 AND $2
    UNION ALL
    SELECT UserKey, AutonomousSystemNumber AS Asn, date_trunc('day', TimeGenerated) AS Day
    FROM AADNonInteractiveUserSignInLogs
    WHERE ResultType = '0' AND AutonomousSystemNumber <> ''
      AND TimeGenerated BETWEEN $1 AND $2
),
days AS (
    SELECT least($3, count(DISTINCT Day)) AS Days FROM signins
),
regulars AS (
    SELECT Asn, UserKey
    FROM signins
    GROUP BY Asn, UserKey
    HAVING count(DISTINCT Day) >= (SELECT Days FROM days)
)
SELECT
    r.Asn,
    count(*) AS RegularUsers,
    (SELECT count(DISTINCT UserKey) FROM signins) AS TenantUsers,
    (SELECT Days FROM days) AS Days
FROM regulars r
GROUP BY r.Asn
ORDER BY RegularUsers DESC, r.Asn
