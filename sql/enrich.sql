-- Evidence for each finding of the hunt, read from the lake itself, and a score that ranks
-- the findings (README, "Triage", explains it). `findings` is the hunt's result plus a
-- FindingId. Parameters (bound as typed values):
--   $1 start, $2 end (the hunt's), $3 lookback (interval, at least a day), $4 time column.
--
-- "Seen for this user in [InteractiveTime - lookback, InteractiveTime)" is a range join on
-- user, ASN (or IP) and time. Rather than pair each finding with every earlier sign-in, the
-- history is first reduced to one row per (user, ASN, day) with its first and last time. With a
-- lookback of at least a day that is still exact: the days strictly inside the range count if
-- they hold any sign-in, and only the two edge days are partial, where the last time (the day
-- of t - lookback) or the first time (the day of t) decides. Days are UTC days: `date_bin` from
-- the epoch is integer arithmetic, where `date_trunc` converts every value through its time
-- zone (the lake's times are all UTC): about a sixth of the enrichment's time.
WITH history AS (
    SELECT
        CASE WHEN $4 = 'CreatedDateTime' THEN CreatedDateTime
             ELSE TimeGenerated END AS Time,
        UserKey, IPAddress, AutonomousSystemNumber
    FROM SigninLogs
    WHERE ResultType = '0'
      AND ($4 = 'CreatedDateTime'
           OR date BETWEEN CAST($1 - CAST($3 AS INTERVAL) AS DATE) AND CAST($2 AS DATE))
    UNION ALL
    SELECT
        CASE WHEN $4 = 'CreatedDateTime' THEN CreatedDateTime
             ELSE TimeGenerated END AS Time,
        UserKey, IPAddress, AutonomousSystemNumber
    FROM AADNonInteractiveUserSignInLogs
    WHERE ResultType = '0'
      AND ($4 = 'CreatedDateTime'
           OR date BETWEEN CAST($1 - CAST($3 AS INTERVAL) AS DATE) AND CAST($2 AS DATE))
),
recent AS (
    SELECT * FROM history WHERE Time BETWEEN $1 - CAST($3 AS INTERVAL) AND $2
),
asn_days AS (
    SELECT UserKey, AutonomousSystemNumber AS Asn, date_bin(INTERVAL '1 day', Time) AS Day,
           min(Time) AS First, max(Time) AS Last
    FROM recent
    GROUP BY UserKey, AutonomousSystemNumber, date_bin(INTERVAL '1 day', Time)
),
ip_days AS (
    SELECT UserKey, IPAddress AS Ip, date_bin(INTERVAL '1 day', Time) AS Day,
           min(Time) AS First, max(Time) AS Last
    FROM recent
    GROUP BY UserKey, IPAddress, date_bin(INTERVAL '1 day', Time)
),
-- Each finding's bounds, computed once per finding rather than once per (finding, day) pair
-- the joins below consider: a heavy user's findings each meet every day of their history.
bounds AS (
    SELECT FindingId, UserPrincipalName, NonInteractiveASN, NonInteractiveIP, InteractiveTime,
           InteractiveTime - CAST($3 AS INTERVAL) AS Since,
           date_bin(INTERVAL '1 day', InteractiveTime - CAST($3 AS INTERVAL)) AS FirstDay,
           date_bin(INTERVAL '1 day', InteractiveTime) AS LastDay
    FROM findings
),
-- One row per day on which the user signed in from the ASN within the lookback.
asn_seen AS (
    SELECT b.FindingId, count(*) AS Days
    FROM bounds b
    JOIN asn_days d ON d.UserKey = b.UserPrincipalName AND d.Asn = b.NonInteractiveASN
    WHERE d.Day BETWEEN b.FirstDay AND b.LastDay
      AND d.First < b.InteractiveTime
      AND d.Last >= b.Since
    GROUP BY b.FindingId
),
ip_seen AS (
    SELECT DISTINCT b.FindingId
    FROM bounds b
    JOIN ip_days d ON d.UserKey = b.UserPrincipalName AND d.Ip = b.NonInteractiveIP
    WHERE d.Day BETWEEN b.FirstDay AND b.LastDay
      AND d.First < b.InteractiveTime
      AND d.Last >= b.Since
),
prevalence AS (
    SELECT AutonomousSystemNumber AS Asn, count(DISTINCT UserKey) AS Users
    FROM recent
    GROUP BY AutonomousSystemNumber
),
evidence AS (
    SELECT
        f.*,
        a.FindingId IS NOT NULL AS NonInteractiveAsnSeenBefore,
        COALESCE(a.Days, 0) AS NonInteractiveAsnDaysBefore,
        i.FindingId IS NOT NULL AS NonInteractiveIpSeenBefore,
        COALESCE(p.Users, 0) AS AsnTenantUsers,
        count(*) OVER (PARTITION BY f.UserPrincipalName) AS UserMismatches
    FROM findings f
    LEFT JOIN asn_seen a ON a.FindingId = f.FindingId
    LEFT JOIN ip_seen i ON i.FindingId = f.FindingId
    LEFT JOIN prevalence p ON p.Asn = f.NonInteractiveASN
)
SELECT
    InteractiveTime, NonInteractiveTime, TimeDeltaSeconds, UserPrincipalName, AccountName,
    AccountUPNSuffix, InteractiveIP, NonInteractiveIP, InteractiveASN, NonInteractiveASN,
    InteractiveAppDisplayName, NonInteractiveAppDisplayName, InteractiveCorrelationId,
    NonInteractiveCorrelationId,
    NonInteractiveAsnSeenBefore,
    NonInteractiveAsnDaysBefore,
    NonInteractiveIpSeenBefore,
    AsnTenantUsers,
    UserMismatches,
    round(
        CASE WHEN NonInteractiveAsnSeenBefore THEN 0 ELSE 50 END
      + CASE WHEN NonInteractiveIpSeenBefore THEN 0 ELSE 25 END
      + 15.0 / greatest(AsnTenantUsers, 1)
      + 10.0 / UserMismatches, 2) AS Score
FROM evidence
ORDER BY
    Score DESC,
    InteractiveTime DESC,
    NonInteractiveTime, TimeDeltaSeconds, UserPrincipalName, AccountName, AccountUPNSuffix,
    InteractiveIP, NonInteractiveIP, InteractiveASN, NonInteractiveASN,
    InteractiveAppDisplayName, NonInteractiveAppDisplayName,
    InteractiveCorrelationId, NonInteractiveCorrelationId
