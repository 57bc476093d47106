-- Short-window sign-in mismatch (MITRE T1550.001, T1539): a successful interactive sign-in
-- followed within `window` by a successful non-interactive sign-in of the same user from a
-- different ASN *and* a different IP. A port of the Microsoft Sentinel hunting query of that
-- name; the notes below say how each of its KQL semantics is kept.
--
-- Parameters (bound as typed values, never spliced into this text):
--   $1 start  (timestamp, UTC, inclusive)
--   $2 end    (timestamp, UTC, inclusive)
--   $3 window (interval, default 10 minutes)
--   $4 time column: 'TimeGenerated' (default) or 'CreatedDateTime' (docs/hunt.md rule 11:
--      switches the time filter, the window and both output times, on both sides)
--
-- KQL → SQL notes:
--   * `tolower(UserPrincipalName)` is the stored column UserKey (docs/lake.md).
--   * `ResultType == 0` compares the raw code as text: "00" or " 0" do not match (rule 1).
--   * `datetime_diff('second', a, b)` counts second boundaries crossed, i.e. the difference of
--     the times floored to the second (rule 6).
--   * `split(upn, "@")[1]` is split_part(upn, '@', 2): "" when there is no second part (rule 7).
--   * KQL leaves ties unordered; the ORDER BY breaks them by every other column (rule 9).
--   * With $4 bound, DataFusion folds the CASE to one column: on TimeGenerated the files' own
--     (UserKey, TimeGenerated) order then carries through to the join.
--   * The `date` filters only let the engine skip whole partitions; the time column decides.
--     `date` is the date of TimeGenerated, so hunting on CreatedDateTime reads every date.
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
FROM interactive i
JOIN non_interactive n
  ON i.UserPrincipalName = n.UserPrincipalName
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
