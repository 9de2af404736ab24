// kafkajs round trip against a Strata broker (see ../rtspec.py for the records).
//
//   node roundtrip.js BOOTSTRAP direct|group [COUNT]
//
// For each codec kafkajs can use here (none, gzip, snappy and lz4 through the
// kafkajs-snappy / @2l/kafkajs-lz4 plugins; zstd has no pure-JS plugin and is
// skipped with a note) it creates a 3-partition topic with the admin client,
// produces COUNT keyed records with headers and timestamps with an
// idempotent acks=-1 producer, and reads them back:
//   direct  with kafkajs's own Cluster/Broker classes: Metadata, then Fetch
//           from offset 0 to the high watermark of every partition (no group;
//           kafkajs has no public assign(), so this uses its internals)
//   group   with a kafkajs consumer group (FindCoordinator, JoinGroup,
//           SyncGroup, OffsetFetch, Heartbeat...)
// and checks every record exactly once, in produce order per partition, at
// the partition/offset the produce response implied, bytes intact.
// Exit 0 when every codec passed; the last line says so.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, Partitioners, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const LZ4Codec = require('@2l/kafkajs-lz4')
const Cluster = require('kafkajs/src/cluster')
const { createLogger } = require('kafkajs/src/loggers')
const LoggerConsole = require('kafkajs/src/loggers/console')
const socketFactory = require('kafkajs/src/network/socketFactory')

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec

const PARTITIONS = 3
const KEYS = 101
const TIMEOUT_MS = 60000
const CODECS = [
  ['none', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
  ['snappy', CompressionTypes.Snappy],
  ['lz4', CompressionTypes.LZ4],
]

const [bootstrap, mode, countArg] = process.argv.slice(2)
if (!bootstrap || !['direct', 'group'].includes(mode)) {
  console.error('usage: node roundtrip.js BOOTSTRAP direct|group [COUNT]')
  process.exit(2)
}
const COUNT = countArg ? parseInt(countArg, 10) : 20000
const BASE_TS = (Math.floor(Date.now() / 1000) - 3600) * 1000

// Record i, as in rtspec.py with dup=False, null=False (kafkajs headers are a map).
const PATTERN = Buffer.alloc(768)
for (let k = 0; k < 768; k++) PATTERN[k] = (7 * k) & 0xff
const key = i => Buffer.from(`key-${i % KEYS}`)
const value = i => {
  if (i === 7) return null
  if (i === 8) return Buffer.alloc(0)
  const start = (i * 31 * 183) % 256
  return Buffer.concat([Buffer.from(`v${i}:`), PATTERN.subarray(start, start + ((i * 37) % 300))])
}
const bin = i => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(i)
  return b
}
const headers = i => ({ idx: Buffer.from(String(i)), bin: bin(i) })
const timestamp = i => String(BASE_TS + i)

const keyPartition = (() => {
  const partitioner = Partitioners.DefaultPartitioner()
  const partitionMetadata = [...Array(PARTITIONS).keys()].map(p => ({ partitionId: p, leader: 1 }))
  return i => partitioner({ topic: 't', partitionMetadata, message: { key: key(i) } })
})()

const sameBytes = (a, b) => (a === null || b === null ? a === b : Buffer.compare(a, b) === 0)

async function produce(kafka, topic, compression) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const delivered = new Map() // i -> [partition, offset]
  const CHUNK = 1000
  for (let from = 0; from < COUNT; from += CHUNK) {
    const ids = []
    for (let i = from; i < Math.min(COUNT, from + CHUNK); i++) ids.push(i)
    const result = await producer.send({
      topic,
      acks: -1,
      compression,
      messages: ids.map(i => ({ key: key(i), value: value(i), headers: headers(i), timestamp: timestamp(i) })),
    })
    // kafkajs sends one batch per partition, in message order: the k-th
    // message for partition p got offset baseOffset + k.
    const next = new Map()
    for (const r of result) {
      if (r.errorCode !== 0) throw new Error(`produce error ${r.errorCode} on partition ${r.partition}`)
      next.set(r.partition, BigInt(r.baseOffset))
    }
    for (const i of ids) {
      const p = keyPartition(i)
      if (!next.has(p)) throw new Error(`no produce result for partition ${p} (record ${i})`)
      delivered.set(i, [p, next.get(p)])
      next.set(p, next.get(p) + 1n)
    }
  }
  await producer.disconnect()
  return delivered
}

async function consumeDirect(topic) {
  const logger = createLogger({ level: logLevel.WARN, logCreator: LoggerConsole })
  const cluster = new Cluster({
    logger,
    socketFactory: socketFactory(),
    brokers: [bootstrap],
    clientId: 'strata-it-direct',
    connectionTimeout: 10000,
    requestTimeout: 30000,
    enforceRequestTimeout: true,
    retry: { retries: 5 },
    offsets: new Map(),
  })
  await cluster.connect()
  await cluster.addTargetTopic(topic)
  await cluster.refreshMetadata()
  const partitions = [...Array(PARTITIONS).keys()]
  const leaders = cluster.findLeaderForPartitions(topic, partitions)
  const out = []
  const deadline = Date.now() + TIMEOUT_MS
  for (const [nodeId, parts] of Object.entries(leaders)) {
    const broker = await cluster.findBroker({ nodeId })
    const position = new Map(parts.map(p => [p, 0n]))
    const high = new Map()
    const done = () => parts.every(p => high.has(p) && position.get(p) >= high.get(p))
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`direct fetch timed out: ${out.length} read, positions ${[...position]}`)
      const resp = await broker.fetch({
        replicaId: -1,
        isolationLevel: 1,
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: 4 << 20,
        topics: [{ topic, partitions: parts.map(p => ({ partition: p, fetchOffset: String(position.get(p)), maxBytes: 1 << 20 })) }],
      })
      for (const t of resp.responses) {
        for (const pr of t.partitions) {
          if (pr.errorCode !== 0) throw new Error(`fetch error ${pr.errorCode} on partition ${pr.partition}`)
          high.set(pr.partition, BigInt(pr.highWatermark))
          for (const m of pr.messages) {
            const off = BigInt(m.offset)
            // A fetch returns whole batches: skip what was already read.
            if (off < position.get(pr.partition)) continue
            out.push({ partition: pr.partition, offset: off, key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp })
            position.set(pr.partition, off + 1n)
          }
        }
      }
    }
  }
  await cluster.disconnect()
  return out
}

async function consumeGroup(kafka, topic) {
  const consumer = kafka.consumer({ groupId: `strata-it-js-${topic}-${Date.now()}`, maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const out = []
  let resolveDone
  const finished = new Promise(resolve => { resolveDone = resolve })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      out.push({ partition, offset: BigInt(message.offset), key: message.key, value: message.value, headers: message.headers, timestamp: message.timestamp })
      if (out.length >= COUNT) resolveDone()
    },
  })
  const timer = setTimeout(resolveDone, TIMEOUT_MS)
  await finished
  clearTimeout(timer)
  // Give duplicates a moment to show up before stopping.
  await new Promise(r => setTimeout(r, 1000))
  await consumer.disconnect()
  return out
}

function verify(delivered, consumed) {
  const errors = []
  const err = m => { if (errors.length < 20) errors.push(m) }
  const seen = new Map()
  const last = new Map()
  const partOfKey = new Map()
  for (const c of consumed) {
    const idx = c.headers && c.headers.idx
    if (!Buffer.isBuffer(idx) || !/^\d+$/.test(idx.toString())) { err(`record at ${c.partition}/${c.offset} has no idx header`); continue }
    const i = parseInt(idx.toString(), 10)
    const where = `record ${i} (${c.partition}/${c.offset})`
    if (seen.has(i)) { err(`${where} read twice`); continue }
    seen.set(i, true)
    if (i >= COUNT) { err(`${where} out of range`); continue }
    if (!sameBytes(c.key, key(i))) err(`${where}: key differs`)
    if (!sameBytes(c.value, value(i))) err(`${where}: value differs (${c.value === null ? 'null' : c.value.length + ' bytes'})`)
    const hk = Object.keys(c.headers)
    if (hk.join(',') !== 'idx,bin' || !sameBytes(c.headers.bin, bin(i))) err(`${where}: headers differ: ${JSON.stringify(c.headers)}`)
    if (c.timestamp !== timestamp(i)) err(`${where}: timestamp ${c.timestamp}, expected ${timestamp(i)}`)
    const prev = last.get(c.partition)
    if (prev && (i <= prev[0] || c.offset <= prev[1])) err(`${where}: after record ${prev[0]} at offset ${prev[1]}`)
    last.set(c.partition, [i, c.offset])
    const k = i % KEYS
    if (!partOfKey.has(k)) partOfKey.set(k, c.partition)
    else if (partOfKey.get(k) !== c.partition) err(`${where}: key ${k} also on partition ${partOfKey.get(k)}`)
    const d = delivered.get(i)
    if (!d || d[0] !== c.partition || d[1] !== c.offset) err(`${where}: produce said ${d}`)
  }
  let missing = 0
  for (let i = 0; i < COUNT; i++) if (!seen.has(i)) missing++
  if (missing) err(`${missing} of ${COUNT} records never read back`)
  if (last.size !== PARTITIONS) err(`records on ${last.size} partitions, expected ${PARTITIONS}`)
  return errors
}

async function main() {
  const kafka = new Kafka({ clientId: 'strata-it-js', brokers: [bootstrap], logLevel: logLevel.WARN, retry: { retries: 5 } })
  console.log('NOTE: zstd skipped: kafkajs has no built-in zstd and its plugins need a native build')
  let ok = 0
  for (const [name, compression] of CODECS) {
    const topic = `rt-kafkajs-${mode}-${name}`
    let errors
    try {
      const admin = kafka.admin()
      await admin.connect()
      const created = await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true })
      if (!created) throw new Error(`createTopics(${topic}) returned false (already exists?)`)
      const meta = await admin.fetchTopicMetadata({ topics: [topic] })
      if (meta.topics[0].partitions.length !== PARTITIONS) throw new Error(`metadata shows ${meta.topics[0].partitions.length} partitions`)
      await admin.disconnect()
      const delivered = await produce(kafka, topic, compression)
      const consumed = mode === 'direct' ? await consumeDirect(topic) : await consumeGroup(kafka, topic)
      errors = verify(delivered, consumed)
      console.log(`kafkajs ${mode} codec=${name}: produced ${delivered.size}, read ${consumed.length}, ${errors.length ? 'FAILED' : 'OK'}`)
    } catch (e) {
      errors = [e.stack || String(e)]
      console.log(`kafkajs ${mode} codec=${name}: FAILED`)
    }
    for (const e of errors) console.log('  ' + e)
    if (!errors.length) ok++
  }
  console.log(`kafkajs ${mode}: ${ok}/${CODECS.length} codecs OK`)
  process.exit(ok === CODECS.length ? 0 : 1)
}

main().catch(e => {
  console.error(e)
  process.exit(1)
})
