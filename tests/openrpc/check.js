// SPDX-License-Identifier: Apache-2.0
//
// Checks mvmd's rpc.discover document the way a client generator would use
// it, and checks that it tells the truth (run by tests/suites/openrpc.sh):
//
//  1. the document is valid OpenRPC (@open-rpc/schema-utils-js
//     validateOpenRPCDocument) and dereferences (dereferenceDocument);
//  2. every example's params and result fit the method's schemas;
//  3. real calls to a real mvmd (ch backend on the cloud-hypervisor double):
//     every result fits its method's declared result schema (ajv), every
//     error answer carries a code the method declares, and every method
//     (but the notification) answered at least one call with a result;
//  4. the compute.vm.event notifications a follower gets fit their params;
//  5. the bounds are this node's: create's memory_mib and vcpus maxima are
//     the capacity compute.node.info reports, and the first value beyond
//     is refused while the bound itself is taken.
//
// usage: node check.js SOCKET KERNEL
'use strict';

const net = require('net');
const { validateOpenRPCDocument, dereferenceDocument } = require('@open-rpc/schema-utils-js');
const AjvModule = require('ajv');
const formatsModule = require('ajv-formats');
const Ajv = AjvModule.default || AjvModule;
const addFormats = formatsModule.default || formatsModule;

const [socketPath, kernel] = process.argv.slice(2);
let passed = 0;
let failed = 0;

function check(name, ok, detail) {
	if (ok) {
		passed++;
		console.log(`ok - ${name}`);
	} else {
		failed++;
		console.log(`not ok - ${name}${detail ? `\n  ${String(detail).split('\n').join('\n  ')}` : ''}`);
	}
	return ok;
}

// One line-delimited JSON-RPC connection: call() answers in order;
// notifications are kept in .notifications.
class Conn {
	constructor(path) {
		this.sock = net.createConnection(path);
		this.buf = '';
		this.waiting = new Map();
		this.notifications = [];
		this.onNotification = null;
		this.nextId = 1;
		this.sock.setEncoding('utf8');
		this.sock.on('data', (d) => {
			this.buf += d;
			let i;
			while ((i = this.buf.indexOf('\n')) >= 0) {
				const line = this.buf.slice(0, i);
				this.buf = this.buf.slice(i + 1);
				const msg = JSON.parse(line);
				if (msg.id === undefined) {
					this.notifications.push(msg);
					if (this.onNotification)
						this.onNotification();
				} else if (this.waiting.has(msg.id)) {
					this.waiting.get(msg.id)(msg);
					this.waiting.delete(msg.id);
				}
			}
		});
	}

	ready() {
		return new Promise((resolve, reject) => {
			this.sock.once('connect', resolve);
			this.sock.once('error', reject);
		});
	}

	call(method, params) {
		const id = this.nextId++;
		const req = { jsonrpc: '2.0', id, method };
		if (params !== undefined)
			req.params = params;
		return new Promise((resolve) => {
			this.waiting.set(id, resolve);
			this.sock.write(JSON.stringify(req) + '\n');
		});
	}

	// Resolves once pred holds on the notifications so far.
	until(pred) {
		return new Promise((resolve) => {
			const test = () => {
				if (pred(this.notifications)) {
					this.onNotification = null;
					resolve();
				}
			};
			this.onNotification = test;
			test();
		});
	}

	close() {
		this.sock.end();
	}
}

// An object schema for params given by name, from content descriptors.
function paramsSchema(method) {
	const properties = {};
	const required = [];
	for (const p of method.params) {
		properties[p.name] = p.schema;
		if (p.required)
			required.push(p.name);
	}
	return { type: 'object', properties, required, additionalProperties: false };
}

async function main() {
	const c = new Conn(socketPath);
	await c.ready();

	// --- 1. the document ---------------------------------------------------
	const discovered = await c.call('rpc.discover');
	const doc = discovered.result;
	const valid = validateOpenRPCDocument(doc);
	check('validateOpenRPCDocument accepts rpc.discover', valid === true, valid === true ? '' : valid.message);
	let deref;
	try {
		deref = await dereferenceDocument(JSON.parse(JSON.stringify(doc)));
		check('dereferenceDocument resolves every $ref', !JSON.stringify(deref.methods).includes('"$ref"'));
	} catch (e) {
		check('dereferenceDocument resolves every $ref', false, e.message || e);
		process.exit(1);
	}

	const ajv = new Ajv({ strict: false, allErrors: true });
	addFormats(ajv);
	const methods = new Map();
	for (const m of deref.methods) {
		const notification = m['x-notification'] === true;
		methods.set(m.name, {
			m,
			notification,
			result: ajv.compile(m.result.schema),
			params: ajv.compile(paramsSchema(m)),
			errors: new Set((m.errors || []).map((e) => e.code)),
			seen: 0,
		});
	}
	for (const [name, e] of methods) {
		check(`${name} declares ${e.notification ? 'a null result (a notification)' : 'a typed result'}`,
		      e.notification ? e.m.result.schema.type === 'null' : e.m.result && e.m.result.schema &&
		      (e.m.result.schema.properties || e.m.result.schema.items || e.m.result.schema.type !== 'object'));
		if (!e.notification)
			check(`${name} declares its errors`, e.m.errors && e.m.errors.length > 0);
	}
	for (const name of ['VM', 'Event', 'Blob', 'NodeInfo', 'ExecResult'])
		check(`components.schemas.${name}`, doc.components.schemas[name] !== undefined);

	// --- 2. examples ------------------------------------------------------
	let examples = 0;
	for (const [name, e] of methods) {
		for (const ex of e.m.examples || []) {
			examples++;
			const params = Object.fromEntries(ex.params.map((p) => [p.name, p.value]));
			check(`${name} example "${ex.name}": params fit`, e.params(params), ajv.errorsText(e.params.errors));
			if (ex.result)
				check(`${name} example "${ex.name}": result fits`, e.result(ex.result.value),
				      ajv.errorsText(e.result.errors));
		}
	}
	check('the main methods have examples', examples >= 8, `${examples} examples`);

	// --- 3. real calls ----------------------------------------------------
	const answers = [];
	async function call(method, params, want) {
		const a = await c.call(method, params);
		const e = methods.get(method);
		const what = `${method} ${JSON.stringify(params || {}).slice(0, 80)}`;
		answers.push(a);
		if (a.error) {
			if (e)
				check(`${what}: error ${a.error.code} is declared`, e.errors.has(a.error.code) &&
				      typeof a.error.message === 'string' && typeof a.error.data === 'object',
				      JSON.stringify(a.error));
			if (want === 'result')
				check(`${what}: answers a result`, false, JSON.stringify(a.error));
			else if (typeof want === 'number')
				check(`${what}: answers ${want}`, a.error.code === want, JSON.stringify(a.error));
		} else {
			e.seen++;
			check(`${what}: result fits the declared schema`, e.result(a.result),
			      ajv.errorsText(e.result.errors) + '\n' + JSON.stringify(a.result).slice(0, 400));
			if (want !== undefined && want !== 'result' && want !== 'any')
				check(`${what}: answers an error`, false, JSON.stringify(a.result).slice(0, 200));
		}
		return a;
	}

	// A follower on its own connection, for compute.vm.event.
	const f = new Conn(socketPath);
	await f.ready();
	const tail = await f.call('compute.vm.events.tail', { limit: 0, follow: true });
	check('events.tail with follow answers', tail.result !== undefined, JSON.stringify(tail));

	await call('rpc.discover', undefined, 'result');
	const info = (await call('compute.node.info', {}, 'result')).result;
	await call('compute.node.metrics', {}, 'result');

	const hash = (await call('compute.blob.put', { data: Buffer.from('hello').toString('base64') }, 'result')).result.hash;
	await call('compute.blob.put', { data: Buffer.from('hello').toString('base64'), expect: hash }, 'result');
	await call('compute.blob.stat', { hash, verify: true }, 'result');
	await call('compute.blob.list', { limit: 1 }, 'result');
	await call('compute.blob.list', {}, 'result');
	await call('compute.blob.pull', { hash }, 'result');
	await call('compute.blob.pull', { hash: 'sha256:' + '1'.repeat(64) }, -32004);
	await call('compute.blob.stat', { hash: 'sha256:' + '0'.repeat(64) }, -32001);
	await call('compute.blob.put', { data: 'not base64!' }, -32602);
	await call('compute.blob.put', { path: '/nonexistent/blob' }, 'any');

	const ch = { backend: 'ch', kernel, memory_mib: 64, vcpus: 1 };
	await call('compute.vm.create', { name: 'c1', labels: { team: 'a' }, ...ch }, 'result');
	await call('compute.vm.create', { name: 'c1', ...ch }, -32003);
	await call('compute.vm.create', { name: 'k1', memory_mib: 16 }, 'result');
	await call('compute.vm.create', { name: 'c2', backend: 'ch', memory_mib: 64 }, -32602);
	await call('compute.vm.list', {}, 'result');
	await call('compute.vm.list', { labels: { team: 'a' } }, 'result');
	await call('compute.vm.list', { state: 'Configured' }, 'result');
	await call('compute.vm.list', { bogus: 1 }, -32602);
	await call('compute.vm.status', { id: 'c1' }, 'result');
	await call('compute.vm.status', { id: 'nope' }, -32001);

	// --- 5. this node's bounds ---------------------------------------------
	const create = deref.methods.find((m) => m.name === 'compute.vm.create');
	const bound = (p) => create.params.find((x) => x.name === p).schema.maximum;
	check('create.memory_mib maximum is the node\'s', bound('memory_mib') === info.capacity.memory_mib_limit,
	      `${bound('memory_mib')} vs ${info.capacity.memory_mib_limit}`);
	check('create.vcpus maximum is the node\'s', bound('vcpus') === info.capacity.vcpus_limit,
	      `${bound('vcpus')} vs ${info.capacity.vcpus_limit}`);
	check('x-limits.max_request_bytes is the node\'s',
	      doc.info['x-limits'].max_request_bytes === info.limits.max_request_bytes);
	const put = deref.methods.find((m) => m.name === 'compute.blob.put');
	check('blob.put data is bounded by the request size',
	      put.params.find((p) => p.name === 'data').schema.maxLength === info.limits.max_request_bytes);
	await call('compute.vm.create', { ...ch, name: 'big', memory_mib: bound('memory_mib'), vcpus: bound('vcpus') }, 'result');
	await call('compute.vm.remove', { id: 'big' }, 'result');
	await call('compute.vm.create', { ...ch, name: 'big', memory_mib: bound('memory_mib') + 1 }, -32005);
	await call('compute.vm.create', { ...ch, name: 'big', vcpus: bound('vcpus') + 1 }, 'error');

	// --- the lifecycle ------------------------------------------------------
	await call('compute.vm.start', { id: 'c1' }, 'result');
	await call('compute.vm.start', { id: 'c1' }, -32002);
	await call('compute.vm.status', { id: 'c1' }, 'result');
	await call('compute.vm.list', { state: 'Running' }, 'result');
	await call('compute.vm.console.endpoint', { id: 'c1' }, 'result');
	await call('compute.vm.logs', { id: 'c1' }, 'result');
	await call('compute.vm.logs', { id: 'c1', tail_bytes: 8, encoding: 'base64' }, 'result');
	await call('compute.vm.exec', { id: 'c1', argv: ['/bin/echo', 'hi'] }, 'result');
	await call('compute.vm.exec', { id: 'c1', argv: ['/bin/sh', '-c', 'exit 3'], encoding: 'base64' }, 'result');
	await call('compute.vm.exec', { id: 'c1', argv: ['/nonexistent/program'] }, 'error');
	await call('compute.vm.exec', { id: 'k1', argv: ['/bin/true'] }, -32002);
	// compute.vm.send needs a Running kvm actor, which this suite (the ch
	// double, no /dev/kvm) cannot have: its answers are checked by
	// tests/integration/check_mvmd_actor.c; here its refusals.
	await call('compute.vm.send', { id: 'c1', data: 'hi' }, -32002);
	await call('compute.vm.send', { id: 'k1', data_base64: 'aGk=', wait: false }, -32002);
	await call('compute.vm.send', { id: 'nope', data: 'hi' }, -32001);
	const iface = 'sha256:' + 'ab'.repeat(32);
	await call('compute.interface.handle', { interface: iface }, 'result');
	await call('compute.interface.handle', { interface: iface }, -32007);
	await call('compute.interface.list', {}, 'result');
	// an answer needs a message from an actor (kvm): here its refusals
	await call('compute.interface.answer', { message_id: 1, data: 'x' }, -32001);
	await call('compute.interface.answer', { message_id: 1 }, -32602);
	await call('compute.interface.release', { interface: iface }, 'result');
	await call('compute.interface.release', { interface: iface }, -32001);
	await call('compute.interface.release', { interface: 'sha256:xyz' }, -32602);
	await call('compute.interface.handle', { interface: iface }, 'result');
	await call('compute.interface.release', { interface: iface }, 'result');
	await call('compute.vm.remove', { id: 'c1' }, -32002);
	await call('compute.vm.resume', { id: 'c1' }, -32002);
	await call('compute.vm.snapshot', { id: 'c1' }, 'result');
	await call('compute.vm.pause', { id: 'c1' }, 'result');
	await call('compute.vm.pause', { id: 'c1' }, -32002);
	await call('compute.vm.list', { state: 'Paused' }, 'result');
	await call('compute.vm.snapshot', { id: 'c1' }, 'result');
	await call('compute.vm.resume', { id: 'c1' }, 'result');
	await call('compute.vm.pause', { id: 'k1' }, -32002);
	await call('compute.vm.create', { name: 'ks', memory_mib: 16, snapshot: 'sha256:' + '0'.repeat(64) }, -32602);
	// hotplug: the kernel file stands in for a disk image
	await call('compute.vm.add-disk', { id: 'c1', path: kernel, readonly: true, serial: 'data' }, 'result');
	await call('compute.vm.add-disk', { id: 'c1', path: 'relative.img' }, -32602);
	await call('compute.vm.add-net', { id: 'c1', tap: 'tap-o1' }, 'result');
	await call('compute.vm.add-net', { id: 'k1', tap: 'tap-o1' }, -32602);
	await call('compute.vm.status', { id: 'c1' }, 'result');
	await call('compute.vm.remove-device', { id: 'c1', device: 'disk0' }, 'result');
	await call('compute.vm.remove-device', { id: 'c1', device: 'disk0' }, -32602);
	await call('compute.vm.remove-device', { id: 'nope', device: 'disk0' }, -32001);
	await call('compute.vm.snapshot', { id: 'nope' }, -32001);
	await call('compute.vm.events.tail', { id: 'c1' }, 'result');
	await call('compute.vm.events.tail', { limit: 1, since: 1 }, 'result');
	await call('compute.vm.stop', { id: 'c1' }, 'result');
	await call('compute.vm.stop', { id: 'c1' }, -32002);
	await call('compute.vm.start', { id: 'c1', snapshot: '9' }, -32602);
	await call('compute.vm.start', { id: 'k1', snapshot: '1' }, -32602);
	await call('compute.vm.start', { id: 'c1', snapshot: '1' }, 'result');
	await call('compute.vm.stop', { id: 'c1' }, 'result');
	// A run needs a micro-VM that runs: on this suite's stand-in kvm
	// device its worker fails to start (-32000), or its timeout comes
	// first (a result); either must fit what the method declares.
	await call('compute.vm.run', { workload: { hash }, reuse_key: 'bad key' }, -32602);
	await call('compute.vm.run', { workload: { hash: 'sha256:' + '0'.repeat(64) } }, -32001);
	await call('compute.vm.run', { workload: { hash }, stdin: 'aGkK', timeout_ms: 20000, reuse_key: 'tenant-a' }, 'any');
	await call('compute.vm.start', { id: 'k1', timeout_ms: 20000 }, 'any');
	await call('compute.vm.status', { id: 'k1' }, 'result');
	await call('compute.vm.remove', { id: 'k1', force: true }, 'result');
	await call('compute.vm.remove', { id: 'c1' }, 'result');
	await call('compute.vm.remove', { id: 'c1' }, -32001);
	await call('compute.blob.remove', { hash }, 'result');
	await call('compute.blob.remove', { hash }, -32001);
	const notCallable = await c.call('compute.vm.event', {});
	check('calling the notification is -32601', notCallable.error && notCallable.error.code === -32601,
	      JSON.stringify(notCallable));

	// compute.vm.run answers a result only where a micro-VM runs (above):
	// its result schema is held to its example here, and its real answers
	// to tests/integration/check_mvmd_run.c under KVM.
	const needsKvm = new Set(['compute.vm.run', 'compute.vm.send', 'compute.interface.answer']);
	for (const [name, e] of methods)
		if (!e.notification && !needsKvm.has(name))
			check(`${name} answered a real call with a result`, e.seen > 0);

	// --- 4. notifications ---------------------------------------------------
	await f.until((n) => n.some((x) => x.params && x.params.to === 'Removed'));
	const ev = methods.get('compute.vm.event');
	let bad = null;
	for (const n of f.notifications) {
		if (n.method !== 'compute.vm.event' || !ev.params(n.params))
			bad = bad || `${JSON.stringify(n)}: ${ajv.errorsText(ev.params.errors)}`;
	}
	check(`${f.notifications.length} compute.vm.event notifications fit their params`, !bad && f.notifications.length > 0, bad);
	f.close();

	// The schemas are not vacuous: a VM without its state, or with a
	// member nobody declared, is refused.
	const vm = answers.find((a) => a.result && a.result.state && a.result.transitions).result;
	const status = methods.get('compute.vm.status');
	const { state, ...noState } = vm;
	check('a VM without "state" does not fit', state && !status.result(noState));
	check('a VM with an undeclared member does not fit', !status.result({ ...vm, surprise: 1 }));

	c.close();
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.log(`not ok - ${e.stack || e}`);
	console.log(`${passed} passed, ${failed + 1} failed`);
	process.exit(1);
});
