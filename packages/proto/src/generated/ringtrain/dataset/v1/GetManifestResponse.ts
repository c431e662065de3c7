// Original file: proto/dataset.proto


export interface GetManifestResponse {
  /**
   * manifest.json exactly as stored: a versioned JSON document that both sides validate with one schema.
   */
  'manifestJson'?: (string);
  /**
   * sha256 of manifest_json, so a worker can check that its plan was cut from the manifest it loads.
   */
  'manifestSha256'?: (string);
}

export interface GetManifestResponse__Output {
  /**
   * manifest.json exactly as stored: a versioned JSON document that both sides validate with one schema.
   */
  'manifestJson': (string);
  /**
   * sha256 of manifest_json, so a worker can check that its plan was cut from the manifest it loads.
   */
  'manifestSha256': (string);
}
