// Original file: proto/dataset.proto


export interface GetManifestRequest {
  /**
   * One of the dataset URIs the service was started with (s3://bucket/prefix or file:///dir).
   */
  'datasetUri'?: (string);
}

export interface GetManifestRequest__Output {
  /**
   * One of the dataset URIs the service was started with (s3://bucket/prefix or file:///dir).
   */
  'datasetUri': (string);
}
