// One kafkajs consumer-group member for test_groups.py, as its own process.
//
//   node group_member.js '<json config>'
//
// config: {bootstrap, topic, group, client_id, session_timeout_ms,
// heartbeat_ms, max_poll_interval_ms}. Same line protocol on stdout as
// ../group_member.py (READY, EV, A, P, C, F, ERR, BYE): each record is printed
// when processed and committed synchronously (autoCommit off) before the next
// one. kafkajs 2.2 only speaks the eager protocol, so every GROUP_JOIN carries
// the member's whole assignment. SIGTERM disconnects (LeaveGroup) and exits 0.
// kafkajs's own log goes to stderr; writes to a pipe are synchronous on Linux,
// so a P line is out before its commit starts.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const cfg = JSON.parse(process.argv[2])
const out = line => process.stdout.write(line + '\n')
const fmt = parts => [...parts].sort((a, b) => a - b).join(',')

const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`${new Date().toISOString()} ${level} ${namespace} ${log.message} ${JSON.stringify(log)}\n`)
}

const kafka = new Kafka({
  clientId: cfg.client_id,
  brokers: [cfg.bootstrap],
  logLevel: logLevel.INFO,
  logCreator,
  retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
})

const consumer = kafka.consumer({
  groupId: cfg.group,
  sessionTimeout: cfg.session_timeout_ms,
  heartbeatInterval: cfg.heartbeat_ms,
  rebalanceTimeout: cfg.max_poll_interval_ms,
  maxWaitTimeInMs: 100,
  metadataMaxAge: 2000,
})

consumer.on(consumer.events.GROUP_JOIN, e => {
  const parts = e.payload.memberAssignment[cfg.topic] || []
  out(`EV assign ${fmt(parts)}`)
  out(`A ${fmt(parts)}`)
})
consumer.on(consumer.events.CRASH, e => out(`ERR crash ${e.payload.error && e.payload.error.message}`))

async function main () {
  await consumer.connect()
  await consumer.subscribe({ topic: cfg.topic, fromBeginning: true })
  out('READY')
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const o = BigInt(message.offset)
      out(`P ${partition} ${o} ${message.value.toString()}`)
      try {
        await consumer.commitOffsets([{ topic, partition, offset: (o + 1n).toString() }])
        out(`C ${partition} ${o}`)
      } catch (e) {
        out(`F ${partition} ${o} ${e.type || e.name}`)
      }
    },
  })
}

process.on('SIGTERM', async () => {
  try {
    await consumer.disconnect()
  } finally {
    out('BYE')
    process.exit(0)
  }
})

main().catch(e => {
  out(`ERR ${e.stack || e}`)
  process.exit(1)
})
