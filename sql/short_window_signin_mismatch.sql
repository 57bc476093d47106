-- Short-window sign-in mismatch (MITRE T1550.001, T1539): a successful interactive sign-in
-- followed within `window` by a successful non-interactive sign-in of the same user from a
-- different ASN *and* a different IP. The Sentinel original is shared/hunt-original.kql; the
-- exact semantics are SPEC §1, rule by rule.
--
-- Parameters (bound as typed values, never spliced into this text):
--   $1 start  (timestamp, UTC, inclusive)
--   $2 end    (timestamp, UTC, inclusive)
--   $3 window (interval, default 10 minutes)
--
-- KQL → SQL notes:
--   * `tolower(UserPrincipalName)` is the stored column UserKey (SPEC §4).
--   * `ResultType == 0` compares the raw code as text: "00" or " 0" do not match (rule 1).
--   * `datetime_diff('second', a, b)` counts second boundaries crossed, i.e. the difference of
--     the times floored to the second (rule 6).
--   * `split(upn, "@")[1]` is split_part(upn, '@', 2): "" when there is no second part (rule 7).
--   * KQL leaves ties unordered; the ORDER BY breaks them by every other column (rule 9).
--   * The `date` filters only let the engine skip whole partitions; TimeGenerated decides.
WITH interactive AS (
    SELECT
        TimeGenerated          AS InteractiveTime,
        UserKey                AS UserPrincipalName,
        IPAddress              AS InteractiveIP,
        AutonomousSystemNumber AS InteractiveASN,
        AppDisplayName         AS InteractiveAppDisplayName,
        CorrelationId          AS InteractiveCorrelationId
    FROM SigninLogs
    WHERE TimeGenerated BETWEEN $1 AND $2
      AND date BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE)
      AND ResultType = '0'
),
non_interactive AS (
    SELECT
        TimeGenerated          AS NonInteractiveTime,
        UserKey                AS UserPrincipalName,
        IPAddress              AS NonInteractiveIP,
        AutonomousSystemNumber AS NonInteractiveASN,
        AppDisplayName         AS NonInteractiveAppDisplayName,
        CorrelationId          AS NonInteractiveCorrelationId
    FROM AADNonInteractiveUserSignInLogs
    WHERE TimeGenerated BETWEEN $1 AND $2
      AND date BETWEEN CAST($1 AS DATE) AND CAST($2 AS DATE)
      AND ResultType = '0'
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
WHERE i.InteractiveASN <> ''
  AND n.NonInteractiveASN <> ''
  AND i.InteractiveASN <> n.NonInteractiveASN
  AND i.InteractiveIP <> n.NonInteractiveIP
ORDER BY
    InteractiveTime DESC,
    NonInteractiveTime, TimeDeltaSeconds, UserPrincipalName, AccountName, AccountUPNSuffix,
    InteractiveIP, NonInteractiveIP, InteractiveASN, NonInteractiveASN,
    InteractiveAppDisplayName, NonInteractiveAppDisplayName,
    InteractiveCorrelationId, NonInteractiveCorrelationId
