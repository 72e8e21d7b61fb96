#!/usr/bin/env node
// A gpux trader in Node.js, built from protos/ alone (@grpc/grpc-js + @grpc/proto-loader):
// it follows its own execution stream (TradingService.StreamExecutionReports), and once the
// stream has caught up it places its order; every event it is told of is printed as one
// JSON line on stdout. It stops after --events events (0: never).
//
//   node trader.js --address 127.0.0.1:50051 --token "$GPUX_TOKEN" \
//       --symbol H100-80G.jiaxing.20261126T14 --side SELL --qty 4 --price 1800 \
//       --deposit 8 --client-order-id 1 --events 3
//
// --deposit N deposits N GPUs (a SELL: capacity in the slot) or N fen (a BUY: funds) first.
// A refusal prints {"error": code name, "details": ...} on stderr and exits 1.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTOS = process.env.GPUX_PROTOS || path.join(__dirname, '..', '..', 'protos');

function parseArgs(argv) {
  const args = {
    address: process.env.GPUX_ADDRESS || '127.0.0.1:50051', token: process.env.GPUX_TOKEN || '',
    symbol: '', side: 'BUY', qty: 1, price: 0, deposit: 0, 'client-order-id': 1, events: 0, after: 0,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in args) || i + 1 >= argv.length) throw new Error(`unknown or incomplete option ${argv[i]}`);
    args[name] = typeof args[name] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!args.token || !args.symbol) throw new Error('give --token (or GPUX_TOKEN) and --symbol');
  return args;
}

function load() {
  const definition = protoLoader.loadSync(
    ['gpux/v1/trading.proto', 'gpux/v1/capacity.proto', 'gpux/v1/account.proto'],
    { includeDirs: [PROTOS], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  return grpc.loadPackageDefinition(definition).gpux.v1;
}

function fail(error) {
  console.error(JSON.stringify({ error: grpc.status[error.code] || String(error.code), details: error.details || String(error) }));
  process.exit(1);
}

function call(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + 10000 }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

// One JSON line per AccountEvent: what happened, in the exchange's words.
function eventLine(event) {
  const line = { exec_seq: Number(event.exec_seq), exec_id: event.exec_id };
  if (event.event === 'change') {
    const c = event.change;
    Object.assign(line, { change: c.kind, symbol: c.symbol, qty: Number(c.qty), amount_fen: Number(c.amount_fen) });
  } else {
    const r = event.report;
    Object.assign(line, {
      exec_type: r.exec_type, order_status: r.order_status, side: r.side, symbol: r.symbol,
      client_order_id: Number(r.client_order_id), last_qty: Number(r.last_qty),
      last_price_fen: Number(r.last_price_fen), leaves_qty: Number(r.leaves_qty), reason: r.reason,
    });
  }
  return JSON.stringify(line);
}

async function main() {
  const args = parseArgs(process.argv);
  const gpux = load();
  const credentials = grpc.credentials.createInsecure();
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${args.token}`);
  const trading = new gpux.TradingService(args.address, credentials);
  const sell = args.side.toUpperCase() === 'SELL';

  if (args.deposit > 0) {
    if (sell) {
      const capacity = new gpux.CapacityService(args.address, credentials);
      await call(capacity, 'DepositCapacity', { symbol: args.symbol, qty: args.deposit }, metadata);
    } else {
      const accounts = new gpux.AccountService(args.address, credentials);
      await call(accounts, 'DepositFunds', { amount_fen: args.deposit }, metadata);
    }
  }

  let seen = 0;
  let placed = false;
  const stream = trading.StreamExecutionReports({ after_exec_seq: args.after }, metadata);
  stream.on('data', async (response) => {
    for (const event of response.events) {
      console.log(eventLine(event));
      seen += 1;
      if (args.events && seen >= args.events) {
        stream.cancel();
        trading.close();
        process.exit(0);
      }
    }
    const last = response.events.length ? Number(response.events[response.events.length - 1].exec_seq) : args.after;
    if (!placed && last >= Number(response.last_exec_seq)) { // caught up: now trade
      placed = true;
      try {
        const answer = await call(trading, 'PlaceOrder', {
          symbol: args.symbol, side: sell ? 'SIDE_SELL' : 'SIDE_BUY',
          order_type: args.price ? 'ORDER_TYPE_LIMIT' : 'ORDER_TYPE_MARKET',
          time_in_force: args.price ? 'TIME_IN_FORCE_GTC' : 'TIME_IN_FORCE_IOC',
          price_fen: args.price, qty: args.qty, client_order_id: args['client-order-id'],
        }, metadata);
        console.error(JSON.stringify({ placed: answer.order.order_id, status: answer.order.order_status }));
      } catch (error) {
        fail(error);
      }
    }
  });
  stream.on('error', (error) => {
    if (error.code !== grpc.status.CANCELLED) fail(error);
  });
}

main().catch(fail);
