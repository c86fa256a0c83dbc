#!/usr/bin/env bash
# What a careful user would write instead of `runbook up params/sandbox.yaml`: the same resources, the
# same waits, idempotent lookups by name (re-running it changes nothing), plain `aws` CLI calls.
#   AWS_ENDPOINT_URL=http://127.0.0.1:PORT bench/aws_cli_baseline.sh
# Settings mirror params/sandbox.yaml; NAME / CONNECTION override them (the benchmark does not).
set -euo pipefail

AWS=${AWS:-aws}
NAME=${NAME:-demo-go-app}
CONNECTION=${CONNECTION:-github-demo}
ROLE="$NAME-instance"
SG_NAME="$NAME-apprunner-egress"
REGION=${AWS_DEFAULT_REGION:-us-east-1}
POLL_S=${POLL_S:-5}          # how often a person's script polls describe-service / list-connections
TAGS="Key=env,Value=sandbox Key=runbook:name,Value=$NAME Key=team,Value=platform"
export AWS_DEFAULT_REGION=$REGION AWS_PAGER=""

# 1. source connection: reuse by name, else create; wait until the handshake is done (AVAILABLE)
conn_status() {
  $AWS apprunner list-connections --connection-name "$CONNECTION" \
    --query 'ConnectionSummaryList[?Status!=`DELETED`]|[0].[ConnectionArn,Status]' --output text
}
read -r CONN_ARN CONN_STATUS < <(conn_status)
if [ "$CONN_ARN" = "None" ]; then
  $AWS apprunner create-connection --connection-name "$CONNECTION" --provider-type GITHUB \
    --tags $TAGS >/dev/null
  read -r CONN_ARN CONN_STATUS < <(conn_status)
fi
while [ "$CONN_STATUS" != "AVAILABLE" ]; do
  [ "$CONN_STATUS" = "ERROR" ] && { echo "connection $CONNECTION: handshake failed" >&2; exit 1; }
  echo "waiting for the handshake of $CONNECTION ($CONN_STATUS)" >&2
  sleep "$POLL_S"
  read -r CONN_ARN CONN_STATUS < <(conn_status)
done

# 2. instance role trusted by App Runner tasks
TRUST='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"tasks.apprunner.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
if ! ROLE_ARN=$($AWS iam get-role --role-name "$ROLE" --query Role.Arn --output text 2>/dev/null); then
  ROLE_ARN=$($AWS iam create-role --role-name "$ROLE" --assume-role-policy-document "$TRUST" \
    --description "App Runner instance role for $NAME" --tags $TAGS --query Role.Arn --output text)
fi

# 3. network: default VPC, its default subnets, an egress-only security group, the VPC connector
VPC_ID=$($AWS ec2 describe-vpcs --filters Name=isDefault,Values=true --query 'Vpcs[0].VpcId' --output text)
SUBNETS=$($AWS ec2 describe-subnets --filters Name=vpc-id,Values="$VPC_ID" Name=default-for-az,Values=true \
  --query 'sort(Subnets[].SubnetId)' --output text)
SG_ID=$($AWS ec2 describe-security-groups \
  --filters Name=vpc-id,Values="$VPC_ID" Name=group-name,Values="$SG_NAME" \
  --query 'SecurityGroups[0].GroupId' --output text)
if [ "$SG_ID" = "None" ]; then
  SG_ID=$($AWS ec2 create-security-group --group-name "$SG_NAME" --vpc-id "$VPC_ID" \
    --description "App Runner VPC connector egress for $NAME" \
    --tag-specifications "ResourceType=security-group,Tags=[{Key=Name,Value=$SG_NAME},{Key=runbook:name,Value=$NAME}]" \
    --query GroupId --output text)
fi
VPCC_ARN=$($AWS apprunner list-vpc-connectors \
  --query "VpcConnectors[?VpcConnectorName=='$NAME' && Status=='ACTIVE']|[0].VpcConnectorArn" --output text)
if [ "$VPCC_ARN" = "None" ]; then
  # shellcheck disable=SC2086
  VPCC_ARN=$($AWS apprunner create-vpc-connector --vpc-connector-name "$NAME" --subnets $SUBNETS \
    --security-groups "$SG_ID" --tags $TAGS --query VpcConnector.VpcConnectorArn --output text)
fi

# 4. auto scaling configuration: reuse the newest ACTIVE revision with these settings
ASC_ARN=$($AWS apprunner list-auto-scaling-configurations --auto-scaling-configuration-name "$NAME" \
  --query 'AutoScalingConfigurationSummaryList[?Status==`ACTIVE`]|[0].AutoScalingConfigurationArn' --output text)
if [ "$ASC_ARN" != "None" ]; then
  SETTINGS=$($AWS apprunner describe-auto-scaling-configuration --auto-scaling-configuration-arn "$ASC_ARN" \
    --query 'AutoScalingConfiguration.[MaxConcurrency,MinSize,MaxSize]' --output text)
  [ "$(echo $SETTINGS)" = "100 1 5" ] || ASC_ARN=None
fi
if [ "$ASC_ARN" = "None" ]; then
  ASC_ARN=$($AWS apprunner create-auto-scaling-configuration --auto-scaling-configuration-name "$NAME" \
    --max-concurrency 100 --min-size 1 --max-size 5 --tags $TAGS \
    --query AutoScalingConfiguration.AutoScalingConfigurationArn --output text)
fi

# 5. the service: create it when absent, then wait until it is RUNNING
SERVICE_ARN=$($AWS apprunner list-services \
  --query "ServiceSummaryList[?ServiceName=='$NAME']|[0].ServiceArn" --output text)
if [ "$SERVICE_ARN" = "None" ]; then
  SOURCE=$(cat <<JSON
{"CodeRepository": {"RepositoryUrl": "https://github.com/example/seed-go-app",
  "SourceCodeVersion": {"Type": "BRANCH", "Value": "main"}, "SourceDirectory": "/",
  "CodeConfiguration": {"ConfigurationSource": "API", "CodeConfigurationValues": {
    "Runtime": "GO_1", "Port": "8080", "BuildCommand": "go build -o main .", "StartCommand": "./main",
    "RuntimeEnvironmentVariables": {"ENV1": "hello"}}}},
 "AutoDeploymentsEnabled": true, "AuthenticationConfiguration": {"ConnectionArn": "$CONN_ARN"}}
JSON
)
  SERVICE_ARN=$($AWS apprunner create-service --service-name "$NAME" --source-configuration "$SOURCE" \
    --instance-configuration "Cpu=1 vCPU,Memory=2 GB,InstanceRoleArn=$ROLE_ARN" \
    --health-check-configuration "Protocol=HTTP,Path=/,Interval=5,Timeout=2,HealthyThreshold=1,UnhealthyThreshold=5" \
    --network-configuration "{\"EgressConfiguration\": {\"EgressType\": \"VPC\", \"VpcConnectorArn\": \"$VPCC_ARN\"},
      \"IngressConfiguration\": {\"IsPubliclyAccessible\": true}, \"IpAddressType\": \"IPV4\"}" \
    --auto-scaling-configuration-arn "$ASC_ARN" --tags $TAGS --query Service.ServiceArn --output text)
fi
while :; do
  STATUS=$($AWS apprunner describe-service --service-arn "$SERVICE_ARN" --query Service.Status --output text)
  case "$STATUS" in
    RUNNING) break ;;
    OPERATION_IN_PROGRESS) echo "waiting for $NAME ($STATUS)" >&2; sleep "$POLL_S" ;;
    *) echo "service $NAME is $STATUS" >&2; exit 1 ;;
  esac
done

# 6. verify: the app answers (on the sandbox, its stand-in under /_sandbox/services/<id>/http/)
SERVICE_ID=${SERVICE_ARN##*/}
if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
  URL="$AWS_ENDPOINT_URL/_sandbox/services/$SERVICE_ID/http/"
else
  URL="https://$($AWS apprunner describe-service --service-arn "$SERVICE_ARN" --query Service.ServiceUrl --output text)/"
fi
curl -fsS -o /dev/null --max-time 10 "$URL"
echo "$NAME: RUNNING, $URL answers"
