// Reference outputs from TensorFlow.js itself, for lavr's TF.js executor tests.
//
// Runs the pure-JavaScript `@tensorflow/tfjs` (CPU backend) in node on the cases of a job folder written by
// scripts/tfjs_reference.py, which drives it and turns the results into the fixtures under
// tests/data/tfjs_reference/. Usage (from the driver): node scripts/tfjs_reference.mjs JOB_DIR
//
// JOB_DIR/job.json: {"cases": [{"id", "model": "/abs/model.json", "image": {"file", "shape", "dtype"},
//                               "pipeline": [steps], "outputs": [names]}]}
// Each case: the image tensor goes through the pipeline's tf ops (the pre-processing human applies before the
// model), the model runs on the result, and JOB_DIR/<id>.input.bin and <id>.out<k>.bin are written
// (little-endian float32 or int32) with their shapes and dtypes in JOB_DIR/result.json.
//
// NODE_PATH must point at a node_modules folder holding @tensorflow/tfjs (the driver sets it).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(join(process.env.NODE_PATH || '.', 'noop.js'));
const tf = require('@tensorflow/tfjs');

function fileHandler(modelPath) {
  // An IOHandler reading model.json and its shards from disk (tfjs-node's file:// handler is not available in
  // the pure-JS package).
  return {
    load: async () => {
      const doc = JSON.parse(readFileSync(modelPath, 'utf8'));
      const specs = [];
      const buffers = [];
      for (const group of doc.weightsManifest) {
        for (const p of group.paths) buffers.push(readFileSync(join(dirname(modelPath), p)));
        specs.push(...group.weights);
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return {
        modelTopology: doc.modelTopology,
        weightSpecs: specs,
        weightData,
        format: doc.format,
        generatedBy: doc.generatedBy,
        convertedBy: doc.convertedBy,
        signature: doc.signature,
        userDefinedMetadata: doc.userDefinedMetadata,
      };
    },
  };
}

function readTensor(dir, spec) {
  const bytes = readFileSync(join(dir, spec.file));
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const values = spec.dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab);
  return tf.tensor(values, spec.shape, spec.dtype);
}

// The pre-processing steps, each the tf call human makes (src/object/*.ts, src/body/*.ts, src/gear/*.ts).
function applyStep(x, step) {
  switch (step.op) {
    case 'resizeBilinear':
      return tf.image.resizeBilinear(x, step.size, step.alignCorners || false, step.halfPixelCenters || false);
    case 'div':
      return tf.div(x, tf.scalar(step.value, 'float32'));
    case 'mul':
      return tf.mul(x, tf.scalar(step.value, 'float32'));
    case 'sub':
      return tf.sub(x, Array.isArray(step.value) ? tf.tensor1d(step.value, 'float32') : tf.scalar(step.value, 'float32'));
    case 'transpose':
      return tf.transpose(x, step.perm);
    case 'pad':
      return tf.pad(x, step.paddings);
    case 'cast':
      return tf.cast(x, step.dtype);
    case 'grayscale': {
      // emotion.ts: rgb weights, summed over channels, then (g - 0.5) * 2
      const weighted = tf.mul(x, tf.tensor1d([0.2989, 0.5870, 0.1140], 'float32'));
      const gray = tf.sum(weighted, 3, true);
      return tf.mul(tf.sub(gray, tf.scalar(0.5, 'float32')), tf.scalar(2.0, 'float32'));
    }
    default:
      throw new Error(`unknown pipeline step ${JSON.stringify(step)}`);
  }
}

async function writeTensor(dir, name, t) {
  const data = await t.data();
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  writeFileSync(join(dir, name), buf);
  return { file: name, shape: t.shape, dtype: t.dtype };
}

async function main() {
  const dir = process.argv[2];
  const job = JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8'));
  await tf.setBackend('cpu');
  await tf.ready();
  const models = new Map();
  const result = { tfjs: tf.version.tfjs, backend: tf.getBackend(), cases: {} };
  for (const c of job.cases) {
    if (!models.has(c.model)) models.set(c.model, await tf.loadGraphModel(fileHandler(c.model)));
    const model = models.get(c.model);
    let x = readTensor(dir, c.image);
    for (const step of c.pipeline) x = applyStep(x, step);
    const started = Date.now();
    let outs = model.execute(x, c.outputs);
    if (!Array.isArray(outs)) outs = [outs];
    const seconds = (Date.now() - started) / 1000;
    const entry = { input: await writeTensor(dir, `${c.id}.input.bin`, x), outputs: {}, seconds };
    for (let k = 0; k < c.outputs.length; k++) {
      entry.outputs[c.outputs[k]] = await writeTensor(dir, `${c.id}.out${k}.bin`, outs[k]);
    }
    result.cases[c.id] = entry;
    process.stderr.write(`${c.id}: ${seconds.toFixed(1)} s\n`);
    tf.dispose([x, ...outs]);
  }
  writeFileSync(join(dir, 'result.json'), JSON.stringify(result));
}

main().catch((err) => { console.error(err); process.exit(1); });
