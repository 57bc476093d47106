-- Background applications, for `retrohunt triage suggest`: successful non-interactive
-- sign-ins per application and ASN, with their users. Parameters: $1 start, $2 end.
SELECT
    AppDisplayName AS App,
    AutonomousSystemNumber AS Asn,
    count(*) AS SignIns,
    count(DISTINCT UserKey) AS Users
FROM AADNonInteractiveUserSignInLogs
WHERE ResultType = '0' AND AppDisplayName <> '' AND AutonomousSystemNumber <> ''
  AND TimeGenerated BETWEEN $1 AND $2
GROUP BY AppDisplayName, AutonomousSystemNumber
ORDER BY App, Asn
