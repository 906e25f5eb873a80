export {
  fileRoots,
  filesQueryKey,
  fileUrl,
  readFileText,
  uploadFiles,
  useDeleteFile,
  useFiles,
  useUploadFiles,
} from './api/files';
export { parseCsv } from './components/csv';
export { FilePreview, previewKind } from './components/FilePreview';
