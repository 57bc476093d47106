-- The scan floor of the hunt: every column and row filter of short_window_signin_mismatch.sql
-- (its parameters; the window $3 has nothing to do here), and no join. No strategy for the join can run the hunt faster than this,
-- so `retrohunt bench` reports each engine as a multiple of it. The aggregates make every
-- column be decoded without holding it.
WITH interactive AS (
    SELECT
        CASE WHEN $4 = 'CreatedDateTime' THEN CreatedDateTime
             ELSE TimeGenerated END AS Time,
        UserKey, IPAddress, AutonomousSystemNumber, AppDisplayName, CorrelationId
    FROM SigninLogs
    WHERE ResultType = '0'
      AND AutonomousSystemNumber <> ''
      AND ($4 = 'CreatedDateTime' OR date BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE))
),
non_interactive AS (
    SELECT
        CASE WHEN $4 = 'CreatedDateTime' THEN CreatedDateTime
             ELSE TimeGenerated END AS Time,
        UserKey, IPAddress, AutonomousSystemNumber, AppDisplayName, CorrelationId
    FROM AADNonInteractiveUserSignInLogs
    WHERE ResultType = '0'
      AND AutonomousSystemNumber <> ''
      AND ($4 = 'CreatedDateTime' OR date BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE))
)
SELECT 'SigninLogs' AS side, count(*) AS rows, max(Time) AS time, max(UserKey) AS user_key,
       max(IPAddress) AS ip, max(AutonomousSystemNumber) AS asn,
       max(AppDisplayName) AS app, max(CorrelationId) AS correlation_id
FROM interactive WHERE Time BETWEEN $1 AND $2
UNION ALL
SELECT 'AADNonInteractiveUserSignInLogs', count(*), max(Time), max(UserKey), max(IPAddress),
       max(AutonomousSystemNumber), max(AppDisplayName), max(CorrelationId)
FROM non_interactive WHERE Time BETWEEN $1 AND $2
