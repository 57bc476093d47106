-- Accounts that behave like machines, for `retrohunt triage suggest`: per account, its
-- successful sign-ins (either table), the share of the most used application, and in how many
-- distinct hours of the day it signs in (people sleep; services do not). Parameters: $1 start,
-- $2 end.
WITH signins AS (
    SELECT UserKey, AppDisplayName AS App, TimeGenerated AS Time
    FROM SigninLogs
    WHERE ResultType = '0' AND TimeGenerated BETWEEN $1 AND $2
    UNION ALL
    SELECT UserKey, AppDisplayName AS App, TimeGenerated AS Time
    FROM AADNonInteractiveUserSignInLogs
    WHERE ResultType = '0' AND TimeGenerated BETWEEN $1 AND $2
),
per_app AS (
    SELECT UserKey, App, count(*) AS SignIns FROM signins GROUP BY UserKey, App
),
per_user AS (
    SELECT UserKey, count(*) AS SignIns, count(DISTINCT date_part('hour', Time)) AS Hours,
           count(DISTINCT date_trunc('day', Time)) AS Days
    FROM signins
    GROUP BY UserKey
)
SELECT
    u.UserKey,
    u.SignIns,
    u.Hours,
    u.Days,
    max(a.SignIns) AS TopAppSignIns
FROM per_user u
JOIN per_app a ON a.UserKey = u.UserKey
GROUP BY u.UserKey, u.SignIns, u.Hours, u.Days
ORDER BY u.UserKey
