// Runs the ORIGINAL TF.js graph model (pure-JS CPU backend, no native code) on a prepared input tensor.
// Called by models/check_against_tfjs.py: node check_against_tfjs.cjs MODEL.json INPUT.bin SHAPE OUTDIR OUT1,OUT2...
// Needs @tensorflow/tfjs, e.g. `npm install --prefix models/build/node @tensorflow/tfjs@4.22.0` (NODE_PATH).
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

async function main() {
  const [modelJson, inputBin, shapeArg, outDir, outputsArg] = process.argv.slice(2);
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const dir = path.dirname(modelJson);
  const buffers = json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p))));
  const all = Buffer.concat(buffers);
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    }),
  };
  await tf.setBackend('cpu');
  const model = await tf.loadGraphModel(handler);
  const raw = fs.readFileSync(inputBin);
  const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const input = tf.tensor(data, shapeArg.split('x').map(Number), 'float32');
  const names = outputsArg.split(',');
  const t0 = Date.now();
  let outs = await model.executeAsync(input, names);
  if (!Array.isArray(outs)) outs = [outs];
  console.log(`tfjs ${tf.version.tfjs} backend ${tf.getBackend()}: ${path.basename(modelJson)} in ${Date.now() - t0} ms`);
  outs.forEach((t, i) => {
    fs.writeFileSync(path.join(outDir, `out${i}.bin`), Buffer.from(t.dataSync().buffer));
    fs.writeFileSync(path.join(outDir, `out${i}.shape`), t.shape.join('x'));
  });
}

main().catch((err) => { console.error(err); process.exit(1); });
