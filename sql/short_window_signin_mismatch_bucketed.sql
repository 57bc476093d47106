-- The hunt of short_window_signin_mismatch.sql, rewritten by hand the classic way for engines
-- without a band join: cut time into buckets one window wide, join on the user *and* the bucket,
-- then filter the window. A non-interactive sign-in at most one window after an interactive one
-- lies in the interactive sign-in's bucket or the next, so each interactive row is joined twice
-- (bucket and neighbour) and every pair is found exactly once, in the bucket that holds the
-- non-interactive time. Same parameters, same rows, same order as the hunt (`retrohunt bench`
-- checks it); it exists so that benchmarks show what a user would otherwise have to write.
WITH interactive AS (
    SELECT
        CASE WHEN $4 = 'CreatedDateTime' THEN CreatedDateTime
             ELSE TimeGenerated END AS InteractiveTime,
        UserKey                AS UserPrincipalName,
        IPAddress              AS InteractiveIP,
        AutonomousSystemNumber AS InteractiveASN,
        AppDisplayName         AS InteractiveAppDisplayName,
        CorrelationId          AS InteractiveCorrelationId
    FROM SigninLogs
    WHERE ResultType = '0'
      AND ($4 = 'CreatedDateTime' OR date BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE))
),
non_interactive AS (
    SELECT
        CASE WHEN $4 = 'CreatedDateTime' THEN CreatedDateTime
             ELSE TimeGenerated END AS NonInteractiveTime,
        UserKey                AS UserPrincipalName,
        IPAddress              AS NonInteractiveIP,
        AutonomousSystemNumber AS NonInteractiveASN,
        AppDisplayName         AS NonInteractiveAppDisplayName,
        CorrelationId          AS NonInteractiveCorrelationId
    FROM AADNonInteractiveUserSignInLogs
    WHERE ResultType = '0'
      AND ($4 = 'CreatedDateTime' OR date BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE))
),
interactive_buckets AS (
    SELECT *, date_bin(CAST($3 AS INTERVAL), InteractiveTime) AS Bucket FROM interactive
    UNION ALL
    SELECT *, date_bin(CAST($3 AS INTERVAL), InteractiveTime) + CAST($3 AS INTERVAL) AS Bucket
    FROM interactive
),
non_interactive_buckets AS (
    SELECT *, date_bin(CAST($3 AS INTERVAL), NonInteractiveTime) AS Bucket FROM non_interactive
)
SELECT
    i.InteractiveTime,
    n.NonInteractiveTime,
    (CAST(date_trunc('second', n.NonInteractiveTime) AS BIGINT)
      - CAST(date_trunc('second', i.InteractiveTime) AS BIGINT)) / 1000000000 AS TimeDeltaSeconds,
    i.UserPrincipalName,
    split_part(i.UserPrincipalName, '@', 1) AS AccountName,
    split_part(i.UserPrincipalName, '@', 2) AS AccountUPNSuffix,
    i.InteractiveIP,
    n.NonInteractiveIP,
    i.InteractiveASN,
    n.NonInteractiveASN,
    i.InteractiveAppDisplayName,
    n.NonInteractiveAppDisplayName,
    i.InteractiveCorrelationId,
    n.NonInteractiveCorrelationId
FROM interactive_buckets i
JOIN non_interactive_buckets n
  ON i.UserPrincipalName = n.UserPrincipalName
 AND i.Bucket = n.Bucket
 AND n.NonInteractiveTime BETWEEN i.InteractiveTime AND i.InteractiveTime + CAST($3 AS INTERVAL)
WHERE i.InteractiveTime BETWEEN $1 AND $2
  AND n.NonInteractiveTime BETWEEN $1 AND $2
  AND i.InteractiveASN <> ''
  AND n.NonInteractiveASN <> ''
  AND i.InteractiveASN <> n.NonInteractiveASN
  AND i.InteractiveIP <> n.NonInteractiveIP
ORDER BY
    InteractiveTime DESC,
    NonInteractiveTime, TimeDeltaSeconds, UserPrincipalName, AccountName, AccountUPNSuffix,
    InteractiveIP, NonInteractiveIP, InteractiveASN, NonInteractiveASN,
    InteractiveAppDisplayName, NonInteractiveAppDisplayName,
    InteractiveCorrelationId, NonInteractiveCorrelationId
